using AudioClassification;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Tests.Training;

namespace Microsoft.ML.Audio.Gpu.Tests.Onnx;

/// <summary>The sample's export and predict --onnx commands on a tiny folder-per-class dataset written here.</summary>
[TestClass]
public sealed class SampleOnnxCommandTests
{
    private static DirectoryInfo _dir = null!;
    private static string Data => Path.Combine(_dir.FullName, "data");
    private static string Model => Path.Combine(_dir.FullName, "model.zip");
    private static string OnnxModel => Path.Combine(_dir.FullName, "model.onnx");

    [ClassInitialize]
    public static void MakeData(TestContext _)
    {
        _dir = Directory.CreateTempSubdirectory("kapre-sample-onnx-");
        var clips = AudioClassificationTrainerTests.Clips(8, seed: 5);
        for (int i = 0; i < clips.Length; i++)
        {
            var folder = Directory.CreateDirectory(Path.Combine(Data, clips[i].Word));
            var signal = new double[clips[i].Audio.Length, 1];
            for (int t = 0; t < clips[i].Audio.Length; t++) signal[t, 0] = clips[i].Audio[t];
            // 8 kHz files: decoding resamples them to the model's 16 kHz, outside the graph, in both routes.
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

    /// <summary>"file.wav: label ..." lines to file → label.</summary>
    private static Dictionary<string, string> Labels(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(l => l.Contains(".wav: "))
        .ToDictionary(l => l[..l.IndexOf(": ", StringComparison.Ordinal)], l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..].Split(' ')[0]);

    [TestMethod]
    [DataRow(false, "conv")]
    [DataRow(true, "operator")]
    public void TrainExportPredictOnnx_GivesTheZipsLabels(bool kapre, string stft)
    {
        string[] train = ["train", "--data", Data, "--model", Model, "--epochs", "3", "--device", "cpu", "--size", "small"];
        var (code, output) = Run(kapre ? [.. train, "--kapre"] : train);
        Assert.AreEqual(0, code, output);
        (code, output) = Run("export", "--model", Model, "--onnx", OnnxModel, "--stft", stft);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, $"ONNX opset {(stft == "conv" ? 13 : 17)}");

        var files = Directory.GetFiles(Data, "*.wav", SearchOption.AllDirectories);
        var (zipCode, zipOutput) = Run(["predict", "--model", Model, .. files]);
        var (onnxCode, onnxOutput) = Run(["predict", "--onnx", OnnxModel, .. files]);
        Assert.AreEqual(0, zipCode, zipOutput);
        Assert.AreEqual(0, onnxCode, onnxOutput);
        var zip = Labels(zipOutput);
        var onnx = Labels(onnxOutput);
        Assert.HasCount(files.Length, zip, zipOutput);
        CollectionAssert.AreEquivalent(zip.ToArray(), onnx.ToArray(), $"labels of every file\nzip:\n{zipOutput}\nonnx:\n{onnxOutput}");
    }

    [TestMethod]
    public void BadOptions_AreRefused_WithTheReason()
    {
        var (code, output) = Run("export", "--model", Model, "--onnx", OnnxModel, "--stft", "fft");
        Assert.AreEqual(2, code);
        StringAssert.Contains(output, "--stft must be conv or operator, got 'fft'.");
        (code, output) = Run("export", "--model", Model);
        Assert.AreEqual(2, code);
        StringAssert.Contains(output, "--onnx is required.");
        (code, output) = Run("predict", "--model", Model, "--onnx", OnnxModel, "x.wav");
        Assert.AreEqual(2, code);
        StringAssert.Contains(output, "not both");
        (code, output) = Run("predict", "--onnx", Path.Combine(_dir.FullName, "missing.onnx"), "x.wav");
        Assert.AreEqual(1, code);
        StringAssert.Contains(output, "No ONNX model at");
        (code, output) = Run("export", "--model", Path.Combine(_dir.FullName, "missing.zip"), "--onnx", OnnxModel);
        Assert.AreEqual(1, code, output);
    }
}
