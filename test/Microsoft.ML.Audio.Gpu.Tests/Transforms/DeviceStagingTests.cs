using Microsoft.ML.Audio.Gpu.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// The transfer buffers a cursor uses for a CUDA device, run here on the CPU with ordinary memory (page-locking needs
/// CUDA; the device check runs them pinned): values arrive and come back unchanged, batches of other sizes reuse or grow
/// the buffers, and what an upload returns never aliases the buffer the next batch overwrites.
/// </summary>
[TestClass]
public sealed class DeviceStagingTests
{
    [TestMethod]
    public void UploadAndDownload_CarryTheValues_AcrossBatchesOfDifferentSizes()
    {
        using var staging = new DeviceStaging(pin: false);
        var cpu = new Device(DeviceType.CPU);
        var rng = new Random(3);
        foreach (int rows in new[] { 4, 7, 2, 7, 16 })
        {
            var data = Enumerable.Range(0, rows * 10 + 5).Select(_ => (float)rng.NextDouble()).ToArray();
            using var up = staging.Upload(data, 5, rows * 10, [rows, 10], cpu);
            CollectionAssert.AreEqual(new long[] { rows, 10 }, up.shape);
            using var two = 2.0.ToScalar();
            using var doubled = up.mul(two);
            var back = new float[rows * 10 + 3];
            staging.Download(doubled, back, 3);
            for (int i = 0; i < rows * 10; i++) Assert.AreEqual(2 * data[5 + i], back[3 + i], $"{rows} rows, value {i}");
        }
    }

    [TestMethod]
    public void AnUpload_DoesNotAliasTheBuffer_TheNextBatchOverwrites()
    {
        using var staging = new DeviceStaging(pin: false);
        var cpu = new Device(DeviceType.CPU);
        using var first = staging.Upload([1, 2, 3, 4], 0, 4, [4], cpu);
        using var second = staging.Upload([5, 6, 7, 8], 0, 4, [4], cpu);
        CollectionAssert.AreEqual(new float[] { 1, 2, 3, 4 }, first.data<float>().ToArray());
        CollectionAssert.AreEqual(new float[] { 5, 6, 7, 8 }, second.data<float>().ToArray());
    }

    [TestMethod]
    public void Download_ConvertsToFloat32_AndReadsNonContiguousTensors()
    {
        using var staging = new DeviceStaging(pin: false);
        using var values = tensor(new double[] { 0, 1, 2, 3, 4, 5 });
        using var doubles = values.reshape(2, 3).t(); // (3, 2), not contiguous
        var back = new float[6];
        staging.Download(doubles, back, 0);
        CollectionAssert.AreEqual(new float[] { 0, 3, 1, 4, 2, 5 }, back);
    }
}
