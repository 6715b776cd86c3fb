using System.Buffers.Binary;
using AudioClassification;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Training;
using SkiaSharp;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>The sample's commands, end to end, on a tiny folder-per-class dataset written here.</summary>
[TestClass]
public sealed class SampleCommandTests
{
    private static DirectoryInfo _dir = null!;
    private static string Data => Path.Combine(_dir.FullName, "data");
    private static string Model => Path.Combine(_dir.FullName, "model.zip");

    [ClassInitialize]
    public static void MakeData(TestContext _)
    {
        _dir = Directory.CreateTempSubdirectory("kapre-sample-");
        var clips = AudioClassificationTrainerTests.Clips(8, seed: 3);
        for (int i = 0; i < clips.Length; i++)
        {
            var folder = Directory.CreateDirectory(Path.Combine(Data, clips[i].Word));
            var signal = new double[clips[i].Audio.Length, 1];
            for (int t = 0; t < clips[i].Audio.Length; t++) signal[t, 0] = clips[i].Audio[t];
            // 8 speakers, one file per word each; 8 kHz, as many real recordings are.
            File.WriteAllBytes(Path.Combine(folder.FullName, $"speaker{i / 3}_{clips[i].Word}.wav"),
                WavBuilder.For(signal, 8000, SampleFormat.Pcm16).ToBytes());
        }
    }

    [ClassCleanup]
    public static void Delete() => _dir.Delete(recursive: true);

    private static (int code, string output) Run(params string[] args)
    {
        var output = new StringWriter();
        int code = Cli.Run(args, output);
        return (code, output.ToString());
    }

    [TestMethod]
    public void TrainEvaluatePredictSpectrogram_RunEndToEnd()
    {
        // 8 clips per class: small data, so accuracy comes from 5-fold cross-validation and every clip trains the model.
        var (code, output) = Run("train", "--data", Data, "--model", Model, "--epochs", "4", "--device", "cpu", "--backbone", "cnn");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "Small data (8 files in the smallest class)");
        StringAssert.Contains(output, "5-fold cross-validation by file, stratified by class");
        StringAssert.Contains(output, "Small CNN: ..... cross-validated accuracy");
        StringAssert.Contains(output, "Training Small CNN on all 24 files, 4 epochs");
        StringAssert.Contains(output, "Epoch 1/4");
        StringAssert.Contains(output, "MicroAccuracy: ");
        StringAssert.Contains(output, "Confusion table");
        StringAssert.Contains(output, "Device: CPU");
        Assert.IsTrue(File.Exists(Model));
        string report = File.ReadAllText(Path.Combine(_dir.FullName, "model.training.md"));
        StringAssert.Contains(report, "## Leaderboard (cross-validated accuracy)");
        StringAssert.Contains(report, "Saved: the Small CNN trained on all 24 files.");
        // The plots next to the model, named in the output.
        foreach (var plot in new[] { "model.training.png", "model.confusion.png" })
        {
            string path = Path.Combine(_dir.FullName, plot);
            StringAssert.Contains(output, path);
            AssertIsAPlot(path);
        }

        (code, output) = Run("evaluate", "--model", Model, "--data", Data);
        Assert.AreEqual(0, code, output);
        foreach (var metric in new[] { "MicroAccuracy: ", "MacroAccuracy: ", "LogLoss: " }) StringAssert.Contains(output, metric);

        var file = Directory.GetFiles(Path.Combine(Data, "high"))[0];
        (code, output) = Run("predict", "--model", Model, file);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, Path.GetFileName(file) + ": ");
        StringAssert.Contains(output, "%");

        string png = Path.Combine(_dir.FullName, "mel.png");
        (code, output) = Run("spectrogram", "--input", file, "--output", png);
        Assert.AreEqual(0, code, output);
        AssertIsAPlot(png);
    }

    [TestMethod]
    public void Spectrogram_IsAPlotOfTheStatedSize_WithText()
    {
        var file = Directory.GetFiles(Path.Combine(Data, "low"))[0];
        string png = Path.Combine(_dir.FullName, "spectrogram.png");
        var (code, output) = Run("spectrogram", "--input", file, "--output", png);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "40 mels x 101 frames");
        Assert.AreEqual((1000, 500), PngSize(png));
        using var bitmap = SKBitmap.Decode(png);
        // A heatmap: many colours, not a blank or one-colour image.
        Assert.IsTrue(Colours(bitmap, 0, bitmap.Height).Count > 100, "The spectrogram has too few colours to be a heatmap.");
        // Below the frame's bottom line and its tick marks there is only text (the times and "Time (s)"). With no fonts
        // SkiaSharp draws no text, the layout gives the text no room, and nothing dark is left there.
        int axis = Enumerable.Range(0, bitmap.Height).LastOrDefault(y => DarkPixels(bitmap, y, y + 1) > bitmap.Width / 2, -1);
        Assert.IsTrue(axis > 0, "No frame line found: not a plot.");
        int text = DarkPixels(bitmap, axis + 8, bitmap.Height);
        Assert.IsTrue(text > 300, $"{text} dark pixels under the x axis (row {axis}): no text drawn; were fonts found?");
    }

    /// <summary>Writes <paramref name="clips"/> as 8 kHz 16-bit WAV files named <c>speakerN_word_i.wav</c>.</summary>
    private static void WriteClips(string root, AudioClassificationTrainerTests.Clip[] clips, int speakers)
    {
        for (int i = 0; i < clips.Length; i++)
        {
            var folder = Directory.CreateDirectory(Path.Combine(root, clips[i].Word));
            var signal = new double[clips[i].Audio.Length, 1];
            for (int t = 0; t < clips[i].Audio.Length; t++) signal[t, 0] = clips[i].Audio[t];
            // Clips come word by word (low, high, rise, low, ...): each speaker says every word.
            File.WriteAllBytes(Path.Combine(folder.FullName, $"speaker{i / 3 % speakers}_{clips[i].Word}_{i}.wav"), WavBuilder.For(signal, 8000, SampleFormat.Pcm16).ToBytes());
        }
    }

    [TestMethod]
    public void Train_ChoosesFromTheCandidates_TestsOnHeldOutSpeakers_AndRefits()
    {
        // 40 clips per class of 12 speakers: trials of the three candidates on the validation speakers, a leaderboard,
        // the winner trained and tested on held-out speakers, then refit on every file for the saved model.
        string root = Path.Combine(_dir.FullName, "automl");
        WriteClips(root, AudioClassificationTrainerTests.Clips(40, seed: 5), speakers: 12);
        string model = Path.Combine(_dir.FullName, "automl.zip");
        var (code, output) = Run("train", "--data", root, "--model", model, "--time", "30", "--device", "cpu");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "Split by speaker (names <speaker>_<anything>)");
        StringAssert.Contains(output, "Choosing the network (time budget 30 s)");
        foreach (var candidate in new[] { "speech embedding (frozen) + logistic regression", "Small CNN", "BC-ResNet-3" })
            StringAssert.Contains(output, $"| {candidate} | ");
        StringAssert.Contains(output, "Chosen: ");
        StringAssert.Contains(output, "A network trained from scratch gets 12 % of the time budget for its trial (4 s)");
        StringAssert.Contains(output, "Held-out test set (");
        StringAssert.Contains(output, "Refit: the same configuration");
        StringAssert.Contains(output, "refit on all 120 files");
        StringAssert.Contains(File.ReadAllText(Path.Combine(_dir.FullName, "automl.training.md")), "## Leaderboard (short trials, validation accuracy)");

        // --no-refit saves the model that was tested, and says so.
        (code, output) = Run("train", "--data", root, "--model", model, "--epochs", "2", "--backbone", "cnn", "--no-refit", "--device", "cpu");
        Assert.AreEqual(0, code, output);
        Assert.DoesNotContain("Refit:", output);
        StringAssert.Contains(output, "(--no-refit)");
    }

    [TestMethod]
    public void Train_AugmentNoise_MixesTheDatasOwnBackgroundRecordings_AndPinkWhenAsked()
    {
        // The data's _background_noise_ folder (Speech Commands' layout) is noise, not a class; --augment noise mixes it in.
        string data = Path.Combine(_dir.FullName, "with-noise");
        foreach (var file in Directory.GetFiles(Data, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(data, Path.GetRelativePath(Data, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var rng = new Random(4);
        var room = new double[3 * 16000, 1];
        for (int t = 0; t < room.GetLength(0); t++) room[t, 0] = 0.05 * (rng.NextDouble() - 0.5);
        Directory.CreateDirectory(Path.Combine(data, "_background_noise_"));
        File.WriteAllBytes(Path.Combine(data, "_background_noise_", "room.wav"), WavBuilder.For(room, 16000, SampleFormat.Pcm16).ToBytes());
        File.WriteAllText(Path.Combine(data, "_background_noise_", "README.md"), "not audio");

        var (code, output) = Run("train", "--data", data, "--model", Path.Combine(_dir.FullName, "noise.zip"), "--epochs", "1", "--device", "cpu",
            "--backbone", "cnn", "--kapre", "--augment", "noise");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "Data: 24 files in 3 classes", "the noise folder is not a class");
        StringAssert.Contains(output, "Left out of the background noise: ");
        StringAssert.Contains(output, "README.md");
        StringAssert.Contains(output, "Background noise: 1 recordings in _background_noise_ (3 s)");
        StringAssert.Contains(output, "Background noise: 3 pieces of the data's background recordings (3 s), mixed at 3-30 dB SNR.", "cut into 1 s pieces");

        (code, output) = Run("train", "--data", data, "--model", Path.Combine(_dir.FullName, "pink.zip"), "--epochs", "1", "--device", "cpu",
            "--backbone", "cnn", "--kapre", "--augment", "pink");
        Assert.AreEqual(0, code, output);
        Assert.IsFalse(output.Contains("Background noise:"), output);
    }

    [TestMethod]
    public void Train_UsesEveryFormat_AndListsWhatItLeavesOut()
    {
        // A FLAC class beside a WAV class; a damaged FLAC, a text file and an empty class folder are reported by name,
        // with the decoder's reason, and left out; training goes on with the rest.
        string root = Path.Combine(_dir.FullName, "formats");
        var clips = AudioClassificationTrainerTests.Clips(8, seed: 9).Where(c => c.Word == "high").ToArray();
        WriteClips(root, clips, speakers: 4);
        string flacs = Directory.CreateDirectory(Path.Combine(root, "flac")).FullName;
        var flac = File.ReadAllBytes(Path.Combine(ReferenceFixtures.Root, "formats", "flac16_mono_odd.flac"));
        for (int i = 0; i < 8; i++) File.WriteAllBytes(Path.Combine(flacs, $"speaker{i % 4}_flac_{i}.flac"), flac);
        var broken = (byte[])flac.Clone();
        for (int i = broken.Length - 300; i < broken.Length - 200; i++) broken[i] ^= 0x5A; // in the last frames: their CRCs fail
        File.WriteAllBytes(Path.Combine(flacs, "broken.flac"), broken);
        File.WriteAllText(Path.Combine(root, "high", "notes.txt"), "recorded on Tuesday");
        Directory.CreateDirectory(Path.Combine(root, "empty"));

        string model = Path.Combine(_dir.FullName, "formats.zip");
        var (code, output) = Run("train", "--data", root, "--model", model, "--epochs", "1", "--backbone", "cnn", "--device", "cpu");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "Data: 16 files in 2 classes");
        StringAssert.Contains(output, "Left out 2 file(s) that cannot be decoded:");
        StringAssert.Contains(output, "broken.flac: ");
        StringAssert.Contains(output, "notes.txt: ");
        StringAssert.Contains(output, "Left out class folder 'empty'");

        (code, output) = Run("evaluate", "--model", model, "--data", root);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "Left out 2 file(s) that cannot be decoded:");
        StringAssert.Contains(output, "on 16 files");
    }

    [TestMethod]
    public void TrainingAndConfusionPlots_AreWrittenFromAHistoryAndAMatrix()
    {
        var history = Enumerable.Range(1, 12).Select(e => new EpochMetrics(e, 2.0 / e, 0.3 + 0.05 * e, 0.25 + 0.05 * e, 2.2 / e, 1.5)).ToList();
        string training = Path.Combine(_dir.FullName, "history.png");
        Plots.TrainingHistory(training, history, selectedEpoch: 9, "test model");
        Assert.AreEqual((Plots.TrainingWidth, Plots.TrainingHeight), PngSize(training));
        AssertIsAPlot(training);

        // Without validation: only training curves, still a plot.
        var noValidation = history.Select(h => h with { ValidationAccuracy = null, ValidationLoss = null }).ToList();
        Plots.TrainingHistory(training, noValidation, selectedEpoch: 12, "no validation");
        AssertIsAPlot(training);

        double[][] counts = [[5, 1, 0], [0, 6, 0], [2, 0, 4]];
        string confusion = Path.Combine(_dir.FullName, "confusion.png");
        Plots.ConfusionMatrix(confusion, counts, ["down", "go", "left"], "accuracy 83.3%");
        AssertIsAPlot(confusion);
        var (width, height) = PngSize(confusion);
        Assert.IsTrue(width >= 600 && height >= 600, $"{width} x {height} is too small to read.");

        Assert.ThrowsExactly<ArgumentException>(() => Plots.ConfusionMatrix(confusion, counts, ["down", "go"], "two names"));
        Assert.ThrowsExactly<ArgumentException>(() => Plots.TrainingHistory(training, [], 1, "empty"));
    }

    /// <summary>A PNG of a readable size with many colours and text (dark pixels) in it.</summary>
    private static void AssertIsAPlot(string path)
    {
        Assert.IsTrue(File.Exists(path), $"{path} was not written.");
        var (width, height) = PngSize(path);
        Assert.IsTrue(width >= 500 && height >= 400, $"{path}: {width} x {height} is too small to read.");
        using var bitmap = SKBitmap.Decode(path);
        Assert.IsNotNull(bitmap, $"{path} does not decode.");
        Assert.IsTrue(Colours(bitmap, 0, bitmap.Height).Count > 10, $"{path} is blank or nearly so.");
        Assert.IsTrue(DarkPixels(bitmap, 0, bitmap.Height) > 200, $"{path} has no text or axes.");
    }

    /// <summary>Width and height from the PNG's IHDR chunk.</summary>
    private static (int width, int height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8], $"{path} is not a PNG.");
        Assert.AreEqual("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private static HashSet<SKColor> Colours(SKBitmap bitmap, int fromRow, int toRow)
    {
        var colours = new HashSet<SKColor>();
        for (int y = fromRow; y < toRow; y++)
            for (int x = 0; x < bitmap.Width; x++) colours.Add(bitmap.GetPixel(x, y));
        return colours;
    }

    private static int DarkPixels(SKBitmap bitmap, int fromRow, int toRow)
    {
        int dark = 0;
        for (int y = fromRow; y < toRow; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                // Dark grey to black (text, lines), not a dark colour of a colour map.
                byte max = Math.Max(c.Red, Math.Max(c.Green, c.Blue)), min = Math.Min(c.Red, Math.Min(c.Green, c.Blue));
                if (c.Alpha > 128 && max < 128 && max - min < 30) dark++;
            }
        return dark;
    }

    [TestMethod]
    public void Predict_ReportsABadFile_AndFailsWithoutCrashing()
    {
        var (code, output) = Run("train", "--data", Data, "--model", Model, "--epochs", "1", "--device", "cpu", "--backbone", "cnn");
        Assert.AreEqual(0, code, output);
        string bad = Path.Combine(_dir.FullName, "bad.wav");
        File.WriteAllText(bad, "not audio");
        (code, output) = Run("predict", "--model", Model, bad);
        Assert.AreEqual(1, code);
        StringAssert.Contains(output, "bad.wav");
        StringAssert.Contains(output, "not a supported audio file");
    }

    [TestMethod]
    [DataRow(new[] { "train", "--data" }, "--data needs a value")]
    [DataRow(new[] { "train", "--model", "m.zip" }, "--data is required")]
    [DataRow(new[] { "frobnicate" }, "Unknown command")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--backbon", "x" }, "Unknown option '--backbon' for 'train'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--backbone", "x" }, "--backbone must be cnn, bc-resnet or speech-embedding, got 'x'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--backbone", "bc-resnet", "--size", "4" }, "--size must be 1, 1.5, 2, 3, 6 or 8 (BC-ResNet's width) for the bc-resnet backbone, got '4'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--size", "medium" }, "--size must be small or large for the cnn backbone, got 'medium'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--seconds", "40" }, "--seconds is the clip length, at most 30; got 40")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--no-refit", "x" }, "'train' takes no file arguments; got 'x'")]
    [DataRow(new[] { "listen", "--model", "m.zip", "--ignore", "_a_", "--background", "_b_" }, "--ignore is the older name of --background")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--backbone", "speech-embedding", "--size", "small" }, "--kapre and --size are for the cnn and bc-resnet backbones")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--fine-tune" }, "--fine-tune needs --backbone speech-embedding")]
    [DataRow(new[] { "--epoch", "3" }, "Unknown option '--epoch' for 'demo'")]
    [DataRow(new[] { "train", "-epochs", "3" }, "two dashes: '--epochs'")]
    [DataRow(new[] { "train", "--epochs", "3", "--epochs", "4" }, "--epochs is given twice")]
    [DataRow(new[] { "evaluate", "--model", "m.zip", "--data", "d", "extra.wav" }, "takes no file arguments")]
    [DataRow(new[] { "spectrogram", "--size", "large" }, "Unknown option '--size' for 'spectrogram'")]
    [DataRow(new[] { "train", "--data", "/nonexistent-kapre", "--model", "m.zip" }, "does not exist")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--augment", "noise" }, "--augment works on raw audio: add --kapre")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--kapre", "--augment", "noise,echo" }, "--augment takes a comma-separated list of noise (or pink), speed, room; got 'noise,echo'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--kapre", "--augment", "noise,pink" }, "--augment takes a comma-separated list of noise (or pink), speed, room; got 'noise,pink'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--mixup", "-1" }, "--mixup must be a positive number")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--time", "0" }, "--time must be a positive integer, got '0'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--time", "2m" }, "--time must be a positive integer, got '2m'")]
    public void BadArguments_PrintWhatIsWrong(string[] args, string message)
    {
        var (code, output) = Run(args);
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, message);
    }
}
