using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Transforms;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>Device choice. CI has no CUDA; on a machine with CUDA the GPU tests check that it is used instead.</summary>
[TestClass]
public sealed class DeviceSelectionTests
{
    private static List<string> CaptureLog(MLContext ml)
    {
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) messages.Add(e.Message); };
        return messages;
    }

    private static IDataView Data(MLContext ml) => AudioData.Load(ml, AudioData.NoiseRows(2, 1000), [1000], 16000);

    [TestMethod]
    public void NoGpuRequested_RunsOnCpu_AndSaysSo()
    {
        var ml = new MLContext(1);
        var log = CaptureLog(ml);
        var model = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio").Fit(Data(ml));
        Assert.AreEqual(DeviceType.CPU, model.Device.type);
        Assert.IsTrue(log.Any(m => m.Contains("MelSpectrogramGpu: running on the CPU")), string.Join("\n", log));
    }

    [TestMethod]
    public void GpuRequested_WithFallback_RunsOnGpuIfPresent_ElseOnCpu_SayingSoAsInformation()
    {
        var ml = new MLContext(1) { GpuDeviceId = 0, FallbackToCpu = true };
        var log = CaptureLog(ml);
        var data = Data(ml);
        var model = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio").Fit(data);
        Assert.HasCount(2, AudioData.Column(model.Transform(data), "Mel"));
        if (cuda.is_available())
        {
            Assert.AreEqual(DeviceType.CUDA, model.Device.type);
            Assert.IsTrue(log.Any(m => m.Contains("running on CUDA device 0")), string.Join("\n", log));
        }
        else
        {
            Assert.AreEqual(DeviceType.CPU, model.Device.type);
            Assert.IsTrue(log.Any(m => m.Contains("GPU 0 was requested") && m.Contains("running on the CPU") && m.Contains("Kind=Info")), string.Join("\n", log));
            // The CPU is what the application allowed (and the normal case): nothing to warn about.
            Assert.IsFalse(log.Any(m => m.Contains("Kind=Warning")), string.Join("\n", log));
        }
    }

    [TestMethod]
    public void GpuRequested_WithoutFallback_Throws_Clearly_WhenThereIsNoGpu()
    {
        var ml = new MLContext(1) { GpuDeviceId = cuda.is_available() ? cuda.device_count() : 0, FallbackToCpu = false };
        var e = Assert.Throws<InvalidOperationException>(() => ml.Transforms.Audio.GpuStft("Spec", "Audio").Fit(Data(ml)));
        StringAssert.Contains(e.Message, $"GPU {ml.GpuDeviceId} was requested");
        StringAssert.Contains(e.Message, "FallbackToCpu");
    }

    [TestMethod]
    public void NegativeGpuDeviceId_IsRejected()
    {
        var ml = new MLContext(1) { GpuDeviceId = -1 };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.GpuStft("Spec", "Audio").Fit(Data(ml)));
        StringAssert.Contains(e.Message, "GpuDeviceId");
    }
}
