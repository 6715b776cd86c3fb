using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>Replays the minimised inputs the fuzzer found (Fixtures/fuzz): each is now rejected clearly and cheaply.</summary>
[TestClass]
public sealed class FuzzCorpusTests
{
    public static IEnumerable<object[]> Corpus => Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "fuzz"), "*.wav")
        .Order().Select(f => new object[] { Path.GetFileName(f) });

    [TestMethod]
    [DynamicData(nameof(Corpus))]
    public void CorpusFile_IsRejectedNamingItself_WithoutABigAllocation(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "fuzz", name);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<AudioDecodeException>(() => AudioDecoder.Decode(path, new AudioDecodeOptions { SampleRate = 16000 }));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        StringAssert.Contains(e.Message, name);
        StringAssert.Contains(e.Reason, "sample rate");
        Assert.IsLessThan(1L << 20, allocated, $"{name}: {allocated} bytes allocated to reject it");
    }
}
