using System.Diagnostics;
using System.Reflection;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// The rooms are assemblies and their dependencies point one way: the layers (TorchSharp only) and audio IO (no
/// TorchSharp) know nothing of ML.NET or of each other; the ML.NET transforms and trainer sit on both. A Kapre-style
/// app that takes only the layers package builds, runs, and carries no ML.NET.
/// </summary>
[TestClass]
public sealed class RoomTests
{
    private static string Dir => Path.GetDirectoryName(typeof(RoomTests).Assembly.Location)!;

    /// <summary>The layers-only sample, built beside the tests (the test project references it for this check).</summary>
    internal static string LayersOnly => Path.GetFullPath(Path.Combine(Dir, "..", "..", "..", "..", "..", "samples", "LayersOnly",
        "bin", Path.GetFileName(Path.GetDirectoryName(Dir))!, Path.GetFileName(Dir), "LayersOnly.dll"));

    private static string[] References(Assembly assembly) => [.. assembly.GetReferencedAssemblies().Select(a => a.Name!)];

    [TestMethod]
    public void Layers_ReferenceTorchSharp_AndNoHigherRoom()
    {
        var refs = References(typeof(Stft).Assembly);
        CollectionAssert.Contains(refs, "TorchSharp");
        var wrong = refs.Where(r => r.StartsWith("Microsoft.ML", StringComparison.Ordinal) || r.StartsWith("NAudio", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(0, wrong.Count, "the layers reference " + string.Join(", ", wrong));
    }

    [TestMethod]
    public void AudioIO_ReferencesNeitherTorchSharpNorMLNet()
    {
        var refs = References(typeof(AudioDecoder).Assembly);
        var wrong = refs.Where(r => r.StartsWith("Microsoft.ML", StringComparison.Ordinal) || r.StartsWith("TorchSharp", StringComparison.Ordinal)).ToList();
        Assert.AreEqual(0, wrong.Count, "audio IO references " + string.Join(", ", wrong));
    }

    [TestMethod]
    public void TheMLNetRoom_SitsOnBothLowerRooms()
    {
        var refs = References(typeof(AudioTransformsCatalog).Assembly);
        CollectionAssert.IsSubsetOf(new[] { "Microsoft.ML.Audio.Gpu.Layers", "Microsoft.ML.Audio.Gpu.IO", "Microsoft.ML.Data", "TorchSharp" }, refs);
        Assert.AreNotEqual(typeof(Stft).Assembly, typeof(AudioDecoder).Assembly);
        Assert.AreNotEqual(typeof(Stft).Assembly, typeof(AudioTransformsCatalog).Assembly);
    }

    [TestMethod]
    public void ALayersOnlyApp_RunsAMelSpectrogram_WithoutMLNet()
    {
        Assert.IsTrue(File.Exists(LayersOnly), $"the layers-only sample is not built at {LayersOnly} (build the solution: dotnet test Kapre.MLNet.sln)");
        var deps = File.ReadAllText(Path.ChangeExtension(LayersOnly, ".deps.json"));
        foreach (var name in new[] { "\"Microsoft.ML/", "Microsoft.ML.Core", "Microsoft.ML.Data", "\"Microsoft.ML.Audio.Gpu/", "Microsoft.ML.Audio.Gpu.IO", "NAudio" })
            Assert.IsFalse(deps.Contains(name, StringComparison.Ordinal), $"{name} is among the layers-only app's dependencies");

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(LayersOnly);
        foreach (var tone in new[] { "440", "3000" }) start.ArgumentList.Add(tone);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.IsTrue(process.WaitForExit(TimeSpan.FromMinutes(2)), "the layers-only app did not finish");
        string output = stdout.Result + stderr.Result;
        Assert.AreEqual(0, process.ExitCode, output);
        StringAssert.Contains(output, "log-mel spectrogram: (1, 64, 101)");
        // Each tone's band stands far above the median band (a spectrogram, not zeros or noise).
        foreach (var line in output.Split('\n').Where(l => l.Contains(" Hz: mel band ")))
        {
            var numbers = System.Text.RegularExpressions.Regex.Matches(line, @"-?\d+\.\d").Select(m => double.Parse(m.Value)).ToArray();
            Assert.IsGreaterThan(60.0, numbers[^2] - numbers[^1], line);
        }
        Assert.AreEqual(2, output.Split('\n').Count(l => l.Contains(" Hz: mel band ")), output);
    }
}
