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
        if (!OperatingSystem.IsLinux()) Assert.Inconclusive("glibc's allocator is Linux-only");
        Assert.IsTrue(CpuAllocator.Configure(), "mallopt was not applied");
        Assert.IsTrue(CpuAllocator.IsConfigured);
        StringAssert.Contains(CpuAllocator.Describe(), "mmap threshold 32 MiB");

        // 20 tensors of 16 MiB made, written and freed in turn. glibc's defaults map each afresh (4,096 page faults each,
        // about 80,000 in all); with the policy the first one's pages serve every later one.
        using (var warm = empty(4L << 20)) warm.fill_(1);
        long before = MinorFaults();
        for (int i = 0; i < 20; i++)
        {
            using var t = empty(4L << 20);
            t.fill_(1);
        }
        long faults = MinorFaults() - before;
        Assert.IsLessThan(4096L, faults, $"{faults} page faults for 20 reused 16 MiB tensors");
    }

    [TestMethod]
    public void Configure_IsIdempotent()
    {
        bool first = CpuAllocator.Configure();
        Assert.AreEqual(first, CpuAllocator.Configure());
    }
}
