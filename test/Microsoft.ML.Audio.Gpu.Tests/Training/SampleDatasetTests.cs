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
}
