using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Data;
using Microsoft.ML.Audio.Gpu.Transforms;
using TorchSharp;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// The transforms' batch size: left unset it is the device's default (64 on the CPU, 256 on a GPU), chosen again where a
/// saved model is loaded; set, it is kept and saved.
/// </summary>
[TestClass]
public sealed class BatchSizeTests
{
    [TestMethod]
    public void Unset_IsTheDevicesDefault()
    {
        Assert.AreEqual(64, GpuTransformDefaults.BatchSizeFor(new torch.Device(DeviceType.CPU)));
        Assert.AreEqual(256, GpuTransformDefaults.BatchSizeFor(new torch.Device(DeviceType.CUDA, 0)));
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(3, 4000), [4000], 16000);
        using var model = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20 }).Fit(data);
        Assert.AreEqual(64, model.BatchSize, "the CPU's default");
        Assert.IsNull(model.Options.BatchSize, "reported as unset");
    }

    [TestMethod]
    public void UnsetStaysUnset_AndASetSizeIsKept_ThroughSaveAndLoad()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(3, 4000), [4000], 16000);
        foreach (int? batch in new int?[] { null, 5 })
        {
            var model = ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = 256, BatchSize = batch })
                .Append(ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 20, CoefficientCount = 8, BatchSize = batch }))
                .Fit(data);
            using var stream = new MemoryStream();
            ml.Model.Save(model, data.Schema, stream);
            stream.Position = 0;
            var loaded = (TransformerChain<ITransformer>)new MLContext(2).Model.Load(stream, out _);
            var stft = (GpuStftTransformer)loaded.First();
            var mfcc = (MfccGpuTransformer)loaded.Last();
            Assert.AreEqual(batch ?? 64, stft.BatchSize, $"BatchSize {batch}");
            Assert.AreEqual(batch, stft.Options.BatchSize, $"BatchSize {batch}");
            Assert.AreEqual(batch ?? 64, mfcc.BatchSize, $"BatchSize {batch}");
            Assert.AreEqual(batch, mfcc.Options.BatchSize, $"BatchSize {batch}");
        }
    }

    [TestMethod]
    public void ANonPositiveSize_IsRefused_NamingTheOption()
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.GpuDecibel("Db", "Spec", new GpuDecibelOptions { BatchSize = 0 }));
        Assert.AreEqual("BatchSize", e.ParamName);
    }
}
