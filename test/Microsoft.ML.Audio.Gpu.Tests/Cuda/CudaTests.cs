using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Training;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Cuda;

/// <summary>
/// What only a CUDA device can show: page-locked staging, the GPU defaults of the transforms (batch size, read-ahead),
/// libtorch's real out-of-memory message, device comparison on CUDA tensors, training on the device. Marked with the
/// test category <see cref="Category"/>: without CUDA (CI, this project's build machine) each ends inconclusive, counted
/// as skipped; build/device-check.sh runs them on the GPU machine, which has no .NET SDK, through the benchmark app's
/// <c>--cuda-tests</c> mode (test/Microsoft.ML.Audio.Gpu.Benchmarks/CudaTestRunner.cs).
/// </summary>
[TestClass]
public sealed class CudaTests
{
    /// <summary>The test category of tests that need a CUDA device.</summary>
    public const string Category = "Cuda";

    /// <summary>The CUDA device the tests run on: <c>KAPRE_CUDA_DEVICE</c>, default 0.</summary>
    private static int Gpu => int.TryParse(Environment.GetEnvironmentVariable("KAPRE_CUDA_DEVICE"), out int d) ? d : 0;

    [TestInitialize]
    public void RequireCuda()
    {
        if (!cuda.is_available())
            Assert.Inconclusive("no CUDA device here; build/device-check.sh runs this on a GPU machine");
    }

    private static Device Device => new(DeviceType.CUDA, Gpu);

    private static MLContext GpuContext() => new(1) { GpuDeviceId = Gpu, FallbackToCpu = false };

    [TestMethod]
    [TestCategory(Category)]
    public void PinnedStaging_CarriesTheValues_AndAnUploadDoesNotAliasTheNextOne()
    {
        using var staging = new DeviceStaging(pin: true);
        var rng = new Random(3);
        foreach (int rows in new[] { 4, 300, 7 })
        {
            var data = Enumerable.Range(0, rows * 100).Select(_ => (float)rng.NextDouble()).ToArray();
            using var up = staging.Upload(data, 0, data.Length, [rows, 100], Device);
            Assert.AreEqual(DeviceType.CUDA, up.device.type, "the upload is on the GPU");
            // A second upload into the same page-locked buffer while the first tensor is alive (non-blocking copies).
            var other = data.Select(v => -v).ToArray();
            using var up2 = staging.Upload(other, 0, other.Length, [rows, 100], Device);
            using var two = 2.0.ToScalar();
            using var doubled = up.mul(two);
            var back = new float[data.Length];
            staging.Download(doubled, back, 0);
            for (int i = 0; i < data.Length; i++) Assert.AreEqual(2 * data[i], back[i], $"{rows} rows, value {i}");
            staging.Download(up2, back, 0);
            for (int i = 0; i < data.Length; i++) Assert.AreEqual(other[i], back[i], $"{rows} rows, second upload, value {i}");
        }
    }

    [TestMethod]
    [TestCategory(Category)]
    public void Transforms_OnCuda_UseTheGpuDefaults_AndEqualTheCpu()
    {
        var rows = AudioData.NoiseRows(600, 4000); // more than one GPU batch of 256
        var gpu = GpuContext();
        var cpu = new MLContext(1);
        IEstimator<ITransformer> Pipeline(MLContext ml) => ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio", new MelSpectrogramOptions { FftLength = 512, MelBinCount = 40 })
            .Append(ml.Transforms.Audio.GpuResample("Audio8k", "Audio", new GpuResampleOptions { SampleRate = 8000 }));
        var gpuData = AudioData.Load(gpu, rows, [4000], 16000);
        var gpuModel = Pipeline(gpu).Fit(gpuData);
        var mel = ((IEnumerable<ITransformer>)gpuModel).OfType<MelSpectrogramGpuTransformer>().Single();
        Assert.AreEqual(DeviceType.CUDA, mel.Device.type);
        Assert.AreEqual(256, mel.BatchSize, "a GPU's default batch size");
        Assert.IsTrue(TorchDevices.ReadsAhead(mel.Device, mel.ReadAhead), "a GPU's cursors read ahead");
        var cpuData = AudioData.Load(cpu, rows, [4000], 16000);
        var cpuOut = Pipeline(cpu).Fit(cpuData).Transform(cpuData);
        // TF32 off (libtorch's default runs cuDNN convolutions in TF32 on this GPU): float32 on both sides.
        bool tf32 = backends.cudnn.allow_tf32;
        backends.cudnn.allow_tf32 = false;
        try
        {
            var gpuOut = gpuModel.Transform(gpuData);
            var audio = AudioData.Column(gpuOut, "Audio8k");
            var expectedAudio = AudioData.Column(cpuOut, "Audio8k");
            Assert.HasCount(expectedAudio.Length, audio, "every row, over three batches");
            // The polyphase convolution in float32 on cuDNN and on the CPU.
            for (int i = 0; i < audio.Length; i++) Compare.RelativeToMax(audio[i], expectedAudio[i], 1e-5, $"Audio8k, row {i}");
            // cuFFT against the CPU's FFT: float32 rounding, in dB a larger share of values far below the peak (the 80 dB
            // range's bottom: OnnxTolerances.DecibelNearFloorAbs's reasoning).
            var logMel = AudioData.Column(gpuOut, "LogMel");
            var expectedLogMel = AudioData.Column(cpuOut, "LogMel");
            double worst = 0;
            for (int i = 0; i < logMel.Length; i++)
                for (int k = 0; k < logMel[i].Length; k++) worst = Math.Max(worst, Math.Abs(logMel[i][k] - expectedLogMel[i][k]));
            Console.WriteLine($"LogMel on CUDA against the CPU: max |dB diff| {worst:G3}");
            Assert.IsLessThanOrEqualTo(1e-2, worst, "log-mel in dB");
        }
        finally
        {
            backends.cudnn.allow_tf32 = tf32;
        }
    }

    [TestMethod]
    [TestCategory(Category)]
    public void LibtorchsOutOfMemoryError_IsRecognised_AndTheDeviceStaysUsable()
    {
        Exception? error = null;
        try
        {
            using var huge = empty([1L << 50], dtype: ScalarType.Float32, device: Device); // 4 PiB
        }
        catch (Exception e)
        {
            error = e;
        }
        Assert.IsNotNull(error, "a 4 PiB allocation failed");
        Assert.IsTrue(DeviceMemory.IsOutOfMemory(error), $"recognised as out of memory: {error.Message}");
        Assert.IsFalse(DeviceMemory.IsDeviceFault(error), "and not as a sticky fault");
        using var small = ones([1000], device: Device);
        Assert.AreEqual(1000.0, small.sum().item<float>(), "the device still works");
    }

    [TestMethod]
    [TestCategory(Category)]
    public void SameDevice_ComparesCudaTensorsDevices()
    {
        using var a = ones([2], device: Device);
        using var b = zeros([2], device: new Device($"cuda:{Gpu}"));
        Assert.IsTrue(Devices.SameDevice(a.device, b.device));
        Assert.IsTrue(Devices.SameDevice(a.device, Device));
        Assert.IsFalse(Devices.SameDevice(a.device, CPU));
    }

    [TestMethod]
    [TestCategory(Category)]
    public void Trainer_OnCuda_Learns_AndScoresOnTheDevice()
    {
        var ml = GpuContext();
        IDataView Load(AudioClassificationTrainerTests.Clip[] clips)
        {
            var definition = SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
            definition["Audio"].AddAnnotation(AudioAnnotationKinds.SampleRate, 8000, NumberDataViewType.Int32);
            return ml.Data.LoadFromEnumerable(clips, definition);
        }
        var model = ml.Transforms.Conversion.MapValueToKey("Label", "Word")
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions
            {
                FeatureColumnName = "Audio", FrontEnd = new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 },
                Epochs = 12, BatchSize = 16, Augment = true,
            }))
            .Fit(Load(AudioClassificationTrainerTests.Clips(20, 1)));
        var classifier = model.LastTransformer;
        Assert.AreEqual(DeviceType.CUDA, classifier.Device.type);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(Load(AudioClassificationTrainerTests.Clips(10, 99))));
        Assert.IsGreaterThan(0.8, metrics.MicroAccuracy, $"accuracy {metrics.MicroAccuracy:P1} on unseen clips (chance: 33%)");
    }

    [TestMethod]
    [TestCategory(Category)]
    public void SpecAugment_DrawsItsMasksOnTheDevice()
    {
        using var augment = AudioLayers.SpecAugment(freq_mask_count: 2, freq_mask_width: 8, time_mask_count: 2, time_mask_width: 10);
        augment.to(Device);
        augment.train();
        using var x = ones([16, 1, 40, 100], device: Device);
        using var y = augment.call(x);
        Assert.AreEqual(DeviceType.CUDA, y.device.type);
        using var zero = 0.0.ToScalar();
        using var zeros = y.eq(zero);
        double masked = zeros.to(ScalarType.Float32).mean().item<float>();
        Assert.IsTrue(masked > 0 && masked < 0.6, $"part of the spectrogram is masked: {masked:P1}");
    }
}
