using AudioClassification;
using Microsoft.ML.Audio.Gpu.Tests.IO;

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
        var (code, output) = Run("train", "--data", Data, "--model", Model, "--epochs", "4", "--device", "cpu");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "Epoch 1/4");
        StringAssert.Contains(output, "Split by file, stratified by class");
        StringAssert.Contains(output, "MicroAccuracy: ");
        StringAssert.Contains(output, "Confusion table");
        Assert.IsTrue(File.Exists(Model));

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
        var bytes = File.ReadAllBytes(png);
        CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
    }

    [TestMethod]
    public void Predict_ReportsABadFile_AndFailsWithoutCrashing()
    {
        var (code, output) = Run("train", "--data", Data, "--model", Model, "--epochs", "1", "--device", "cpu");
        Assert.AreEqual(0, code, output);
        string bad = Path.Combine(_dir.FullName, "bad.wav");
        File.WriteAllText(bad, "not audio");
        (code, output) = Run("predict", "--model", Model, bad);
        Assert.AreEqual(1, code);
        StringAssert.Contains(output, "bad.wav");
        StringAssert.Contains(output, "not a WAV file");
    }

    [TestMethod]
    [DataRow(new[] { "train", "--data" }, "--data needs a value")]
    [DataRow(new[] { "train", "--model", "m.zip" }, "--data is required")]
    [DataRow(new[] { "frobnicate" }, "Unknown command")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--backbon", "x" }, "Unknown option '--backbon' for 'train'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--backbone", "x" }, "--backbone must be cnn or speech-embedding, got 'x'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--backbone", "speech-embedding", "--size", "small" }, "--kapre and --size are for the cnn backbone")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--fine-tune" }, "--fine-tune needs --backbone speech-embedding")]
    [DataRow(new[] { "--epoch", "3" }, "Unknown option '--epoch' for 'demo'")]
    [DataRow(new[] { "train", "-epochs", "3" }, "two dashes: '--epochs'")]
    [DataRow(new[] { "train", "--epochs", "3", "--epochs", "4" }, "--epochs is given twice")]
    [DataRow(new[] { "evaluate", "--model", "m.zip", "--data", "d", "extra.wav" }, "takes no file arguments")]
    [DataRow(new[] { "spectrogram", "--size", "large" }, "Unknown option '--size' for 'spectrogram'")]
    [DataRow(new[] { "train", "--data", "/nonexistent-kapre", "--model", "m.zip" }, "does not exist")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--time", "0" }, "--time must be a positive integer, got '0'")]
    [DataRow(new[] { "train", "--data", "d", "--model", "m.zip", "--time", "2m" }, "--time must be a positive integer, got '2m'")]
    public void BadArguments_PrintWhatIsWrong(string[] args, string message)
    {
        var (code, output) = Run(args);
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, message);
    }
}
