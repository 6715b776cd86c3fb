using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Transforms;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// Device out-of-memory while processing a batch (CI has no GPU, so the batch's work is a stand-in that fails the way
/// libtorch does): the batch is split and retried, covering every row once and in order; a row that cannot fit alone
/// fails with a clear message; and which failures are the rows' data (reported on the rows) and which are faults that
/// must propagate.
/// </summary>
[TestClass]
public sealed class OutOfMemoryTests
{
    private static ExternalException CudaOutOfMemory(int n)
        => new($"CUDA out of memory. Tried to allocate 2.00 GiB for a batch of {n}\nException raised from malloc at ...");

    [TestMethod]
    public void BatchTooLargeForTheDevice_IsSplit_CoveringEveryRowOnceInOrder()
    {
        var attempts = new List<int>();
        var done = new List<int>();
        int splits = DeviceMemory.RunSplitting(11, (start, n) =>
        {
            attempts.Add(n);
            if (n > 2) throw CudaOutOfMemory(n);
            for (int k = 0; k < n; k++) done.Add(start + k);
        });

        CollectionAssert.AreEqual(new[] { 11, 5, 2, 3, 1, 2, 6, 3, 1, 2, 3, 1, 2 }, attempts, "11 → 5 + 6, each halved until it fits");
        CollectionAssert.AreEqual(Enumerable.Range(0, 11).ToArray(), done, "every row once, in order");
        Assert.AreEqual(6, splits, "the attempts of 11, 5, 3, 6, 3 and 3 rows ran out");
    }

    [TestMethod]
    public void RowThatNeverFits_FailsClearly()
    {
        var e = Assert.Throws<RowTooLargeForDeviceException>(() => DeviceMemory.RunSplitting(4, (_, n) => throw CudaOutOfMemory(n)));
        StringAssert.StartsWith(e.Message, "The device ran out of memory for a single row: CUDA out of memory. Tried to allocate 2.00 GiB");
        Assert.DoesNotContain("malloc", e.Message, "the first line of libtorch's message, not its stack");
        Assert.IsTrue(DeviceMemory.IsRowDataError(e));
    }

    [TestMethod]
    public void OtherFailures_AreNotRetried()
    {
        int calls = 0;
        Assert.Throws<ExternalException>(() => DeviceMemory.RunSplitting(8, (_, _) => { calls++; throw new ExternalException("Expected 3D tensor"); }));
        Assert.AreEqual(1, calls);
    }

    [TestMethod]
    public void RowDataErrors_AreTheRowsFailures_ProgrammingErrorsAreNot()
    {
        Assert.IsTrue(DeviceMemory.IsRowDataError(new ArgumentException("input has 100 samples; reflect padding needs more", "input")));
        Assert.IsTrue(DeviceMemory.IsRowDataError(new ArgumentException("specgram has 1 frame", "specgram")));
        Assert.IsTrue(DeviceMemory.IsRowDataError(new ExternalException("libtorch refused the shape")));
        Assert.IsFalse(DeviceMemory.IsRowDataError(new ArgumentOutOfRangeException("n_fft", 0, "n_fft must be positive")));
        Assert.IsFalse(DeviceMemory.IsRowDataError(new InvalidOperationException("the layer returned 3 values per row for a chunk, 4 for the first")));
        Assert.IsFalse(DeviceMemory.IsRowDataError(new NullReferenceException()));
    }

    [TestMethod]
    public void ARowTheLayerRefuses_FailsThatRowOnly_NamingColumnAndRow()
    {
        // Reflect padding of n_fft / 2 = 128 needs more than 128 samples: the 100-sample row fails, the others go on.
        var ml = new MLContext(1);
        var rows = AudioData.NoiseRows(3, 2000);
        rows[1].Audio = rows[1].Audio[..100];
        var data = AudioData.Load(ml, rows, null, 16000);
        var model = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20 }).Fit(data);
        var values = new List<string>();
        using var cursor = model.Transform(data).GetRowCursor(model.Transform(data).Schema);
        var getter = cursor.GetGetter<Microsoft.ML.Data.VBuffer<float>>(cursor.Schema["Mel"]);
        while (cursor.MoveNext())
        {
            var v = default(Microsoft.ML.Data.VBuffer<float>);
            try { getter(ref v); values.Add($"{v.Length} values"); }
            catch (InvalidOperationException e) { values.Add(e.Message); }
        }
        Assert.HasCount(3, values);
        Assert.AreEqual(values[0], values[2]);
        StringAssert.Contains(values[1], "row 1 of column 'Audio'");
        StringAssert.Contains(values[1], "100 samples");
    }
}
