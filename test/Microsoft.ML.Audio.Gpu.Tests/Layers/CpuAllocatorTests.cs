using Microsoft.ML.Audio.Gpu.Layers;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class CpuAllocatorTests
{
    private static long MinorFaults() => long.Parse(File.ReadAllText("/proc/self/stat").Split(") ")[1].Split(' ')[7]);

    [TestMethod]
    public void Configure_OnLinuxWithGlibc_KeepsFreedTensorMemoryForReuse()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.IsFalse(CpuAllocator.Configure(), "there is no glibc allocator to configure off Linux");
            return;
        }
        Assert.IsTrue(CpuAllocator.Configure(), "mallopt was not applied");
        Assert.IsTrue(CpuAllocator.IsConfigured);
        StringAssert.Contains(CpuAllocator.Describe(), "mmap threshold 32 MiB");

        long faults = FaultsOf20ReusedTensors();
        Assert.IsLessThan(2 * 4096L, faults, $"main thread: {faults} page faults for 20 reused 16 MiB tensors");
    }

    [TestMethod]
    public void Configure_OnLinuxWithGlibc_KeepsFreedTensorMemoryForReuse_OnOtherThreads()
    {
        // Other threads allocate from per-thread arenas whose heaps glibc deletes when empty (the top pad keeps them):
        // ML.NET cursors and PredictionEngines often run on thread-pool threads.
        if (!OperatingSystem.IsLinux())
        {
            Assert.IsFalse(CpuAllocator.Configure(), "there is no glibc allocator to configure off Linux");
            return;
        }
        Assert.IsTrue(CpuAllocator.Configure());
        long faults = Task.Run(FaultsOf20ReusedTensors).Result;
        Assert.IsLessThan(2 * 4096L, faults, $"thread-pool thread: {faults} page faults for 20 reused 16 MiB tensors");
    }

    /// <summary>
    /// Page faults while 20 tensors of 16 MiB are made, written and freed in turn (after one to warm up). glibc's
    /// defaults map each afresh: 4,096 faults each, about 80,000 in all. With the policy the first one's pages serve
    /// every later one (measured: 4,100 faults on a fresh thread-pool thread, the first tensor's; with glibc's defaults
    /// about 80,000). The count is the process's, so other threads' faults are included; the bound allows two tensors.
    /// </summary>
    private static long FaultsOf20ReusedTensors()
    {
        using (var warm = empty(4L << 20)) warm.fill_(HeldScalars.One);
        long before = MinorFaults();
        for (int i = 0; i < 20; i++)
        {
            using var t = empty(4L << 20);
            t.fill_(HeldScalars.One);
        }
        return MinorFaults() - before;
    }

    [TestMethod]
    public void Configure_IsIdempotent()
    {
        bool first = CpuAllocator.Configure();
        Assert.AreEqual(first, CpuAllocator.Configure());
    }
}
