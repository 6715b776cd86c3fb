using System.Reflection;
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
    public void LibtorchsCpuAllocationFailure_IsOutOfMemory_SoABatchOnTheCpuIsSplitToo()
    {
        // 4 EiB: more than any x64 address space holds (57 bits at most), so libtorch's allocator refuses it at once, whatever the
        // kernel's overcommit setting.
        Exception? error = null;
        try
        {
            using var huge = TorchSharp.torch.empty([1L << 60], dtype: TorchSharp.torch.ScalarType.Float32);
        }
        catch (Exception e)
        {
            error = e;
        }
        Assert.IsNotNull(error, "the allocation failed");
        Assert.IsTrue(DeviceMemory.IsOutOfMemory(error), error.Message);
        Assert.IsFalse(DeviceMemory.IsDeviceFault(error));
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

    [TestMethod]
    [DataRow("cuFFT error: CUFFT_ALLOC_FAILED")]
    [DataRow("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")]
    [DataRow("cuDNN error: CUDNN_STATUS_ALLOC_FAILED")]
    [DataRow("CUDA out of memory. Tried to allocate 20.00 MiB")]
    public void CudaLibrariesAllocationFailures_AreOutOfMemory_AndSplit(string message)
    {
        var attempts = new List<int>();
        DeviceMemory.RunSplitting(4, (_, n) =>
        {
            attempts.Add(n);
            if (n > 1) throw new ExternalException(message);
        });
        CollectionAssert.AreEqual(new[] { 4, 2, 1, 1, 2, 1, 1 }, attempts);
    }

    [TestMethod]
    [DataRow("CUDA error: an illegal memory access was encountered")]
    [DataRow("CUDA error: device-side assert triggered")]
    [DataRow("CUDA error: unspecified launch failure")]
    public void StickyDeviceFaults_AreNeitherRowErrorsNorOutOfMemory(string message)
    {
        var e = new ExternalException(message);
        Assert.IsTrue(DeviceMemory.IsDeviceFault(e));
        Assert.IsFalse(DeviceMemory.IsRowDataError(e), "not reported on rows: every later call would fail the same way");
        Assert.IsFalse(DeviceMemory.IsOutOfMemory(e), "not retried in halves");
        Assert.IsFalse(DeviceMemory.IsDeviceFault(new ExternalException("CUDA out of memory")));
        Assert.IsFalse(DeviceMemory.IsDeviceFault(new ArgumentException("an illegal memory access", "input")), "only libtorch's errors");
    }

    [TestMethod]
    public void StickyDeviceFault_StopsTheCursor_AndLaterBatchesFailAtOnce()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(6, 500), [500], 16000);
        using var transformer = ml.Transforms.Audio.GpuStft("Out", "Audio", new GpuStftOptions { FftLength = 64, BatchSize = 2 }).Fit(data);
        // The layer is swapped for one that fails as libtorch does after an illegal memory access on a GPU (CI has none).
        var failing = new Failing();
        typeof(GpuAudioTransformerBase).GetField("_module", BindingFlags.Instance | BindingFlags.NonPublic)!
            .SetValue(transformer, new Lazy<TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>>(() => failing));
        var output = transformer.Transform(data);

        var first = Assert.Throws<DeviceFaultException>(() => AudioData.Column(output, "Out"));
        StringAssert.Contains(first.Message, "GpuStft: the device cpu failed (CUDA error: an illegal memory access was encountered)");
        StringAssert.Contains(first.Message, "restart the process");
        Assert.AreEqual(1, failing.Calls, "the first batch's failure stops the cursor");

        var second = Assert.Throws<DeviceFaultException>(() => AudioData.Column(output, "Out"));
        Assert.AreSame(first, second, "a new cursor fails with the same fault");
        Assert.AreEqual(1, failing.Calls, "without running the layer again");
    }

    private sealed class Failing() : TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>("failing")
    {
        public int Calls;

        public override TorchSharp.torch.Tensor forward(TorchSharp.torch.Tensor input)
        {
            Calls++;
            throw new ExternalException("CUDA error: an illegal memory access was encountered\nCompile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.");
        }
    }
}
