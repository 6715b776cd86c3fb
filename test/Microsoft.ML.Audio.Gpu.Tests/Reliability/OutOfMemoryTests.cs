using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// Device out-of-memory while processing a batch (simulated: CI has no GPU): the batch is split and retried, giving
/// the same rows; a row that cannot fit alone fails with a clear message; the next call works normally.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class OutOfMemoryTests
{
    private static (IDataView data, ITransformer model) Pipeline(MLContext ml)
    {
        var data = AudioData.Load(ml, AudioData.NoiseRows(11, 2000), [2000], 16000);
        var model = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20, BatchSize = 8 }).Fit(data);
        return (data, model);
    }

    [TestMethod]
    public void BatchTooLargeForTheDevice_IsSplit_AndGivesTheSameRows()
    {
        var ml = new MLContext(1);
        var (data, model) = Pipeline(ml);
        var expected = AudioData.Column(model.Transform(data), "Mel");
        var attempts = new List<int>();
        DeviceMemory.SimulateOutOfMemory = n => { lock (attempts) attempts.Add(n); return n > 2; };
        float[][] actual;
        try { actual = AudioData.Column(model.Transform(data), "Mel"); }
        finally { DeviceMemory.SimulateOutOfMemory = null; }

        CollectionAssert.AreEqual(new[] { 8, 4, 2, 2, 4, 2, 2, 3, 1, 2 }, attempts, "8 → 4 → 2+2, 4 → 2+2; the last 3 rows → 1 + 2");
        Assert.HasCount(11, actual);
        for (int i = 0; i < 11; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"row {i}");
    }

    [TestMethod]
    public void RowThatNeverFits_FailsClearly_AndTheNextCallWorks()
    {
        var ml = new MLContext(1);
        var (data, model) = Pipeline(ml);
        DeviceMemory.SimulateOutOfMemory = _ => true;
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => AudioData.Column(model.Transform(data), "Mel"));
            StringAssert.Contains(e.Message, "row 0 of column 'Audio'");
            StringAssert.Contains(e.Message, "ran out of memory for a single row");
        }
        finally { DeviceMemory.SimulateOutOfMemory = null; }
        Assert.HasCount(11, AudioData.Column(model.Transform(data), "Mel"), "the transformer works again afterwards");
    }
}
