using System.Text.RegularExpressions;
using Microsoft.ML.Audio.Gpu.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class DeviceTests
{
    [TestMethod]
    public void SameDevice_ComparesTypeAndIndex_NotReferences()
    {
        // Two tensors' devices are distinct objects (TorchSharp 0.107 has no equality on Device): == says false.
        using var a = zeros(1);
        using var b = zeros(1);
        Assert.IsFalse(ReferenceEquals(a.device, b.device), "TorchSharp now returns one Device object: revisit Devices.SameDevice");
        Assert.IsTrue(Devices.SameDevice(a.device, b.device));
        Assert.IsTrue(Devices.SameDevice(a.device, CPU));
        Assert.IsTrue(Devices.SameDevice(new Device(DeviceType.CPU), new Device("cpu")));

        // Device objects only: no CUDA tensor is created, so this runs without a GPU.
        Assert.IsFalse(Devices.SameDevice(new Device("cpu"), new Device("cuda:0")));
        Assert.IsFalse(Devices.SameDevice(new Device("cuda:0"), new Device("cpu")));
        Assert.IsTrue(Devices.SameDevice(new Device("cuda:0"), new Device("cuda:0")));
        Assert.IsTrue(Devices.SameDevice(new Device("cuda"), new Device("cuda:0")), "index -1 (the current device) is taken as 0");
        Assert.IsFalse(Devices.SameDevice(new Device("cuda:0"), new Device("cuda:1")));
        Assert.IsFalse(Devices.SameDevice(new Device("cuda"), new Device("cuda:1")));
    }

    [TestMethod]
    public void Sources_HaveNoReferenceComparisonOfDevices()
    {
        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "Kapre.MLNet.sln"))) root = Path.GetDirectoryName(root);
        Assert.IsNotNull(root, $"the repository root (Kapre.MLNet.sln) is not above {AppContext.BaseDirectory}");
        var pattern = new Regex(@"\.device\s*(==|!=)|(==|!=)\s*[\w.]*\.device\b");
        var hits = Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(h => pattern.IsMatch(h.line))
            .Select(h => $"{Path.GetRelativePath(root, h.f)}:{h.i + 1}: {h.line.Trim()}")
            .ToList();
        Assert.AreEqual(0, hits.Count, "Device has no value equality in TorchSharp 0.107; use Devices.SameDevice:\n" + string.Join("\n", hits));
    }

    [TestMethod]
    public void Sources_CheckFindsAReferenceComparison()
    {
        // The check above can fail: its pattern matches the forms this repository used to have.
        var pattern = new Regex(@"\.device\s*(==|!=)|(==|!=)\s*[\w.]*\.device\b");
        Assert.IsTrue(pattern.IsMatch("var w = window.dtype == x.dtype && window.device == x.device ? window : w2;"));
        Assert.IsTrue(pattern.IsMatch("if (a.device != b.device) return;"));
        Assert.IsFalse(pattern.IsMatch("Devices.SameDevice(window.device, x.device)"));
    }
}
