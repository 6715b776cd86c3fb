using AudioClassification;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>The sample's speaker conventions and split (names only: the files are empty, nothing is decoded).</summary>
[TestClass]
public sealed class SampleDatasetTests
{
    private static readonly string[] Digits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    private static string MakeFolder(IEnumerable<(string label, string name)> files)
    {
        var root = Directory.CreateTempSubdirectory("kapre-dataset-").FullName;
        foreach (var (label, name) in files)
        {
            Directory.CreateDirectory(Path.Combine(root, label));
            File.WriteAllBytes(Path.Combine(root, label, name), []);
        }
        return root;
    }

    private static void CheckSplit(DataSplit split, int total, double minTrain = 0.70, double maxTrain = 0.80)
    {
        Assert.AreEqual(total, split.Train.Count + split.Validation.Count + split.Test.Count, "every file in exactly one set");
        Assert.AreEqual(total, split.Train.Concat(split.Validation).Concat(split.Test).Select(f => f.Path).Distinct().Count());
        double trainFraction = (double)split.Train.Count / total;
        Assert.IsTrue(trainFraction >= minTrain && trainFraction <= maxTrain, $"training keeps {trainFraction:P1}: {split.Description}");
        var classes = split.Train.Select(f => f.Label).Distinct().Order().ToArray();
        CollectionAssert.AreEqual(classes, split.Validation.Select(f => f.Label).Distinct().Order().ToArray(), "validation holds every class");
        CollectionAssert.AreEqual(classes, split.Test.Select(f => f.Label).Distinct().Order().ToArray(), "test holds every class");
    }

    private static HashSet<string> Speakers(IEnumerable<LabelledFile> files) => files.Select(f => f.Speaker).ToHashSet();

    [TestMethod]
    public void SpokenDigitNames_GiveTheSpeakerInTheMiddle_AndTooFewSpeakers_SplitByFile()
    {
        // The Free Spoken Digit Dataset: <digit>_<speaker>_<n>.wav, 6 speakers; the old rule made 60 "<digit>_<speaker>" groups.
        string[] people = ["jackson", "nicolas", "theo", "yweweler", "george", "lucas"];
        var root = MakeFolder(from d in Digits from p in people from n in Enumerable.Range(0, 45) select (d, $"{d}_{p}_{n}.wav"));
        var data = Dataset.Load(root);
        Assert.AreEqual("names <class>_<speaker>_<n>", data.SpeakerSource);
        CollectionAssert.AreEquivalent(people, Speakers(data.Files).ToArray());

        // Six voices: holding one out would train on five and test on one; every voice trains, and the split says so.
        var split = Dataset.Split(data);
        CheckSplit(split, data.Files.Count);
        CollectionAssert.AreEquivalent(people, Speakers(split.Train).ToArray());
        StringAssert.Contains(split.Description, "6 speakers (names <class>_<speaker>_<n>) are too few");

        // Ten voices of 10% each: two are held out for testing and one for validation, leaving exactly 70% to train.
        var ten = MakeFolder(from d in Digits from p in Enumerable.Range(0, 10) from n in Enumerable.Range(0, 20) select (d, $"{d}_person{p}_{n}.wav"));
        var tenSplit = Dataset.Split(Dataset.Load(ten));
        CheckSplit(tenSplit, 2000);
        Assert.AreEqual(2, Speakers(tenSplit.Test).Count, tenSplit.Description);
        Assert.AreEqual(1, Speakers(tenSplit.Validation).Count, tenSplit.Description);
        Assert.IsFalse(Speakers(tenSplit.Test).Overlaps(Speakers(tenSplit.Train)), "test voices are not in training");
        Assert.IsFalse(Speakers(tenSplit.Validation).Overlaps(Speakers(tenSplit.Train)), "validation voices are not in training");
    }

    [TestMethod]
    public void SpeechCommandsNames_AreSplitBySpeaker_ForValidationAndTest()
    {
        string[] words = ["yes", "no", "up", "down"];
        var rng = new Random(5);
        var people = Enumerable.Range(0, 40).Select(i => $"{rng.Next():x8}").ToArray();
        // Not every speaker says every word, as in the real set.
        var root = MakeFolder(from w in words from p in people where rng.NextDouble() < 0.8 from n in Enumerable.Range(0, rng.Next(1, 3)) select (w, $"{p}_nohash_{n}.wav"));
        var data = Dataset.Load(root);
        Assert.AreEqual("names <speaker>_nohash_<n> (Speech Commands)", data.SpeakerSource);
        Assert.AreEqual(40, data.SpeakerCount);

        var split = Dataset.Split(data);
        CheckSplit(split, data.Files.Count);
        Assert.IsFalse(Speakers(split.Test).Overlaps(Speakers(split.Train)));
        Assert.IsFalse(Speakers(split.Validation).Overlaps(Speakers(split.Train)));
        Assert.IsFalse(Speakers(split.Validation).Overlaps(Speakers(split.Test)));
    }

    [TestMethod]
    public void BundledNames_SpeakerFirst_SplitBySpeaker()
    {
        string[] words = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"];
        var root = MakeFolder(from w in words from v in Enumerable.Range(0, 40) select (w, $"en-gb-voice{v}_{w}.wav"));
        var data = Dataset.Load(root);
        Assert.AreEqual("names <speaker>_<anything>", data.SpeakerSource);
        var split = Dataset.Split(data);
        CheckSplit(split, 400);
        Assert.AreEqual(30, Speakers(split.Train).Count, split.Description);
        Assert.IsFalse(Speakers(split.Validation).Overlaps(Speakers(split.Train)));
    }

    [TestMethod]
    public void IdsThatAreNotSpeakers_FallBackToAStratifiedSplitByFile_AndSayWhy()
    {
        // One person's recordings named by time: the name up to '_' is "audio" for most files, a unique id for the rest.
        string[] commands = ["on", "off", "up", "down", "left", "right", "stop", "go", "yes", "no", "wait"];
        int k = 0;
        var root = MakeFolder(from c in commands from n in Enumerable.Range(0, 100)
                              let id = $"2024{k++:D6}x{n % 7}"
                              select (c, n % 5 == 0 ? $"audio_{id}_.wav" : $"audio_{id}.wav"));
        var data = Dataset.Load(root);
        Assert.IsNull(data.SpeakerSource);
        StringAssert.Contains(data.NoSpeakerReason, "'audio'");

        var split = Dataset.Split(data);
        CheckSplit(split, 1100);
        foreach (var c in commands)
        {
            // Stratified: each class has the same share in each set, to within one file.
            Assert.AreEqual(15, split.Test.Count(f => f.Label == c), 1);
            Assert.AreEqual(10, split.Validation.Count(f => f.Label == c), 1);
        }
        StringAssert.Contains(split.Description, "Split by file, stratified by class");
    }

    [TestMethod]
    public void Split_IsSeeded()
    {
        var root = MakeFolder(from d in Digits from n in Enumerable.Range(0, 20) select (d, $"clip{d}{n}.wav"));
        var data = Dataset.Load(root);
        var a = Dataset.Split(data, seed: 1);
        var b = Dataset.Split(data, seed: 1);
        var c = Dataset.Split(data, seed: 2);
        CollectionAssert.AreEqual(a.Test.Select(f => f.Path).ToArray(), b.Test.Select(f => f.Path).ToArray());
        CollectionAssert.AreNotEqual(a.Test.Select(f => f.Path).ToArray(), c.Test.Select(f => f.Path).ToArray());
    }

    [TestMethod]
    public void SpeakerCsv_NamesTheSpeakers_AndAMissingRowNamesTheFile()
    {
        var names = (from d in Digits from n in Enumerable.Range(0, 30) select (d, $"take{n}.wav")).ToArray();
        var root = MakeFolder(names);
        // Any name works with a CSV: ten people, three takes of each digit.
        File.WriteAllLines(Path.Combine(root, Dataset.SpeakerFileName),
            ["file,speaker", .. names.Select(x => $"{x.d}/{x.Item2},\"person, {int.Parse(x.Item2[4..^4]) / 3}\"")]);
        var data = Dataset.Load(root);
        Assert.AreEqual(Dataset.SpeakerFileName, data.SpeakerSource);
        Assert.AreEqual(10, data.SpeakerCount);
        Assert.IsTrue(data.Files.All(f => f.Speaker.StartsWith("person, ")));
        var split = Dataset.Split(data);
        CheckSplit(split, 300);
        Assert.IsFalse(Speakers(split.Test).Overlaps(Speakers(split.Train)));

        File.WriteAllBytes(Path.Combine(root, "3", "extra.wav"), []);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => Dataset.Load(root));
        StringAssert.Contains(e.Message, "3/extra.wav");
    }

    [TestMethod]
    public void AClassWithTooFewFiles_IsNamed()
    {
        var root = MakeFolder([("a", "x1.wav"), ("a", "x2.wav"), ("a", "x3.wav"), ("b", "y1.wav"), ("b", "y2.wav")]);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => Dataset.Split(Dataset.Load(root)));
        StringAssert.Contains(e.Message, "'b'");
    }

    [TestMethod]
    public void SpeechCommandsTestSetNames_GiveSpeakersPerFile_AndSilenceCutsNone()
    {
        // As the corpus's test set is distributed: <speaker>_nohash_<n>.wav in the word folders,
        // <word>_<speaker>_nohash_<n>.wav.wav in _unknown_, numbered cuts of background noise in _silence_.
        string[] words = ["yes", "no", "up"];
        var rng = new Random(8);
        var people = Enumerable.Range(0, 30).Select(i => $"{rng.Next():x8}").ToArray();
        var names = (from w in words from p in people select (w, $"{p}_nohash_0.wav"))
            .Concat(from p in people select ("_unknown_", $"{(rng.Next(2) == 0 ? "bed" : "tree")}_{p}_nohash_1.wav.wav"))
            .Concat(from n in Enumerable.Range(1000, 25) select ("_silence_", $"{n}.wav")).ToList();
        var data = Dataset.Load(MakeFolder(names));
        Assert.AreEqual("names <speaker>_nohash_<n> (Speech Commands); 25 files without a speaker", data.SpeakerSource);
        Assert.AreEqual(30, data.SpeakerCount);
        Assert.IsTrue(data.Files.Where(f => f.Label == "_unknown_").All(f => people.Contains(f.Speaker)), "the word before the speaker is not the speaker");
        Assert.IsTrue(data.Files.Where(f => f.Label == "_silence_").All(f => f.Speaker == ""));

        var split = Dataset.Split(data);
        CheckSplit(split, data.Files.Count, minTrain: 0.68);
        StringAssert.Contains(split.Description, "Split by speaker");
        Assert.IsFalse(Speakers(split.Test).Where(s => s != "").ToHashSet().Overlaps(Speakers(split.Train)), "test voices are not in training");
        Assert.IsFalse(Speakers(split.Validation).Where(s => s != "").ToHashSet().Overlaps(Speakers(split.Train)));
        Assert.IsTrue(split.Train.Any(f => f.Label == "_silence_") && split.Test.Any(f => f.Label == "_silence_"), "the cuts are spread one by one");

        var (folds, how) = Dataset.Folds(data, 5);
        Assert.HasCount(5, folds);
        StringAssert.Contains(how, "by speaker");
        Assert.AreEqual(data.Files.Count, folds.Sum(f => f.test.Count), "every file is tested once");
        foreach (var (train, test) in folds)
            Assert.IsFalse(Speakers(test).Where(s => s != "").ToHashSet().Overlaps(Speakers(train)));
    }

    [TestMethod]
    public void BackgroundNoiseFolder_IsNoiseNotAClass()
    {
        // Speech Commands' own layout: _background_noise_ beside the word folders holds minutes-long recordings.
        var files = (from w in new[] { "yes", "no" } from n in Enumerable.Range(0, 12) select (w, $"spk{n}_nohash_0.wav")).ToList();
        files.Add(("_background_noise_", "white_noise.wav"));
        files.Add(("_background_noise_", "running_tap.wav"));
        var root = MakeFolder(files);
        var data = Dataset.Load(root);
        CollectionAssert.AreEqual(new[] { "no", "yes" }, data.Classes);
        Assert.AreEqual(24, data.Files.Count);
        CollectionAssert.AreEqual(new[] { "running_tap.wav", "white_noise.wav" }, data.NoiseFiles.Select(Path.GetFileName).ToArray());
    }

    [TestMethod]
    public void SpeakerFolders_LikeLibriSpeech_NameTheSpeakers()
    {
        var root = Directory.CreateTempSubdirectory("kapre-dataset-").FullName;
        foreach (var word in new[] { "alpha", "bravo" })
            for (int speaker = 0; speaker < 12; speaker++)
                for (int take = 0; take < 2; take++)
                {
                    string folder = Path.Combine(root, word, $"{100 + speaker}", "2001");
                    Directory.CreateDirectory(folder);
                    File.WriteAllBytes(Path.Combine(folder, $"{100 + speaker}-2001-{take:D4}.flac"), []);
                }
        File.WriteAllBytes(Path.Combine(root, "alpha", ".DS_Store"), []);
        var data = Dataset.Load(root);
        Assert.AreEqual("folders <class>/<speaker>/...", data.SpeakerSource);
        Assert.AreEqual(12, data.SpeakerCount);
        Assert.HasCount(48, data.Files, "hidden files are not data");
        var split = Dataset.Split(data);
        Assert.IsFalse(Speakers(split.Test).Overlaps(Speakers(split.Train)));
    }
}
