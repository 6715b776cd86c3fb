using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using AudioClassification;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Tests.Training;

namespace Microsoft.ML.Audio.Gpu.Tests.Onnx;

/// <summary>
/// Issue 15's "done when": the exported file predicts the zip's labels through ONNX Runtime alone, on a machine with no
/// TorchSharp natives. The sample's output folder is copied without any native file of the libtorch and TorchSharp
/// packages (the list is read from its deps.json, so a new libtorch file cannot slip through), and the copy runs as a
/// second process with an empty NuGet folder: TorchSharp's loader, failing to find its natives beside the app, copies
/// them from the NuGet cache when it can, which would make the run prove nothing. The control run, <c>predict --model</c>
/// in the same folder, must fail to load libtorch; <c>predict --onnx</c> must succeed with the zip's labels.
/// </summary>
[TestClass]
public sealed class SampleOnnxWithoutTorchTests
{
    private static DirectoryInfo _dir = null!;
    private static string Data => Path.Combine(_dir.FullName, "data");
    private static string Model => Path.Combine(_dir.FullName, "model.zip");
    private static string OnnxModel => Path.Combine(_dir.FullName, "model.onnx");
    private static string App => Path.Combine(_dir.FullName, "app");

    private static string TestDir => Path.GetDirectoryName(typeof(SampleOnnxWithoutTorchTests).Assembly.Location)!;

    /// <summary>The sample's own build output (with its deps.json), built with this test project: it references the sample.</summary>
    private static string SampleDir => Path.GetFullPath(Path.Combine(TestDir, "..", "..", "..", "..", "..", "samples", "AudioClassification",
        "bin", Path.GetFileName(Path.GetDirectoryName(TestDir))!, Path.GetFileName(TestDir)));

    [ClassInitialize]
    public static void MakeData(TestContext _)
    {
        _dir = Directory.CreateTempSubdirectory("kapre-onnx-no-torch-");
        var clips = AudioClassificationTrainerTests.Clips(8, seed: 11);
        for (int i = 0; i < clips.Length; i++)
        {
            var folder = Directory.CreateDirectory(Path.Combine(Data, clips[i].Word));
            var signal = new double[clips[i].Audio.Length, 1];
            for (int t = 0; t < clips[i].Audio.Length; t++) signal[t, 0] = clips[i].Audio[t];
            File.WriteAllBytes(Path.Combine(folder.FullName, $"speaker{i / 3}_{clips[i].Word}.wav"),
                WavBuilder.For(signal, 16000, SampleFormat.Pcm16).ToBytes());
        }
    }

    [ClassCleanup]
    public static void Delete() => _dir.Delete(recursive: true);

    /// <summary>File names (in runtimes/RID/native) of every native asset of the libtorch-* and TorchSharp packages.</summary>
    private static HashSet<string> TorchNatives(string depsJson)
    {
        using var deps = JsonDocument.Parse(File.ReadAllText(depsJson));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var target in deps.RootElement.GetProperty("targets").EnumerateObject())
            foreach (var library in target.Value.EnumerateObject())
            {
                string package = library.Name.Split('/')[0];
                if (!package.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) && !package.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase)) continue;
                foreach (var kind in new[] { "native", "runtimeTargets" })
                    if (library.Value.TryGetProperty(kind, out var assets))
                        foreach (var asset in assets.EnumerateObject())
                            if (kind == "native" || asset.Value.GetProperty("assetType").GetString() == "native")
                                names.Add(Path.GetFileName(asset.Name));
            }
        return names;
    }

    /// <summary>Copies the sample's folder: its top-level files and this machine's runtimes/RID/native, less every torch native.</summary>
    private static List<string> CopyWithoutTorch(string from, string to)
    {
        var torch = TorchNatives(Path.Combine(from, "AudioClassification.deps.json"));
        // The files the loader needs first: if the deps.json stops listing them, the copy would keep them and prove nothing.
        foreach (var needed in new[] { "libtorch_cpu.so", "libLibTorchSharp.so", "libc10.so" })
            Assert.Contains(needed, torch, $"the deps.json's torch natives: {string.Join(", ", torch)}");
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        string native = Path.Combine("runtimes", RuntimeInformation.RuntimeIdentifier, "native");
        Directory.CreateDirectory(Path.Combine(to, native));
        var left = new List<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(from, native)))
        {
            if (torch.Contains(Path.GetFileName(file))) { left.Add(Path.GetFileName(file)); continue; }
            File.Copy(file, Path.Combine(to, native, Path.GetFileName(file)));
        }
        return left;
    }

    /// <summary>Runs the copied sample in a new process whose NuGet folder is empty; returns its exit code and output.</summary>
    private static (int code, string output) RunCopy(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = _dir.FullName };
        start.Environment["NUGET_PACKAGES"] = Directory.CreateDirectory(Path.Combine(_dir.FullName, "empty-nuget")).FullName;
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(App, "AudioClassification.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("The copied sample did not finish within 120 s.");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

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
    public void PredictOnnx_WithoutTorchNatives_GivesTheZipsLabels()
    {
        Assert.IsTrue(File.Exists(Path.Combine(SampleDir, "AudioClassification.dll")), $"the sample is not built at {SampleDir}");
        var (code, output) = Run("train", "--data", Data, "--model", Model, "--epochs", "3", "--device", "cpu", "--size", "small");
        Assert.AreEqual(0, code, output);
        (code, output) = Run("export", "--model", Model, "--onnx", OnnxModel);
        Assert.AreEqual(0, code, output);
        var files = Directory.GetFiles(Data, "*.wav", SearchOption.AllDirectories);
        var (zipCode, zipOutput) = Run(["predict", "--model", Model, .. files]);
        Assert.AreEqual(0, zipCode, zipOutput);
        var zip = Labels(zipOutput);
        Assert.HasCount(files.Length, zip, zipOutput);

        var left = CopyWithoutTorch(SampleDir, App);
        Assert.Contains("libtorch_cpu.so", left, "libtorch was not in the sample's output to leave out");

        // Control: the zip route needs libtorch and must not find it here, else the ONNX run below proves nothing.
        var (torchCode, torchOutput) = RunCopy(["predict", "--model", Model, files[0]]);
        Assert.AreNotEqual(0, torchCode, $"predict --model ran without the torch natives:\n{torchOutput}");
        StringAssert.Contains(torchOutput, "libtorch-cpu", "the failure is TorchSharp's loader not finding libtorch");

        var (onnxCode, onnxOutput) = RunCopy(["predict", "--onnx", OnnxModel, .. files]);
        Assert.AreEqual(0, onnxCode, onnxOutput);
        CollectionAssert.AreEquivalent(zip.ToArray(), Labels(onnxOutput).ToArray(), $"labels of every file\nzip:\n{zipOutput}\nonnx without torch:\n{onnxOutput}");
        // Nothing brought torch back into the folder (TorchSharp's loader copies its natives into app/cpu when it can).
        var torchFiles = Directory.GetFiles(App, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f).Contains("torch", StringComparison.OrdinalIgnoreCase) && !f.EndsWith(".dll", StringComparison.Ordinal)).ToArray();
        Assert.IsEmpty(torchFiles, string.Join(", ", torchFiles));
    }
}
