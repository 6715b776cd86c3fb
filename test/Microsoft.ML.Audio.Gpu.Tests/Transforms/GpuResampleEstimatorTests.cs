using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

[TestClass]
public sealed class GpuResampleEstimatorTests
{
    [TestMethod]
    public void Transform_MatchesTheResampleLayer_AndUpdatesTheSampleRate()
    {
        var ml = new MLContext(1);
        var rows = AudioData.NoiseRows(5, 4410);
        var data = AudioData.Load(ml, rows, [4410], 44100);
        var output = ml.Transforms.Audio.GpuResample("Resampled", "Audio", new GpuResampleOptions { SampleRate = 16000, BatchSize = 2 }).Fit(data).Transform(data);

        var col = output.Schema["Resampled"];
        CollectionAssert.AreEqual(new[] { 1600 }, ((VectorDataViewType)col.Type).Dimensions.ToArray());
        int rate = 0;
        col.Annotations.GetValue(AudioAnnotationKinds.SampleRate, ref rate);
        Assert.AreEqual(16000, rate);
        using var layer = AudioLayers.Resample(44100, 16000);
        var values = AudioData.Column(output, "Resampled");
        for (int i = 0; i < rows.Length; i++)
            Compare.RelativeToMax(values[i], Compare.ToArray(layer.call(tensor(rows[i].Audio))), Tolerances.SameComputationRel, $"row {i}");
    }

    [TestMethod]
    public void LoadAudioAtTheFilesRate_ThenGpuResample_FeedsTheMelSpectrogram_MultiChannel()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 3).Select(i => new AudioRow { Id = i, Audio = AudioData.Noise(2 * 2205, i) }).ToArray();
        var data = AudioData.Load(ml, rows, [2, 2205], 22050, channels: 2);
        var output = ml.Transforms.Audio.GpuResample("A16", "Audio")
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Mel", "A16", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20 }))
            .Fit(data).Transform(data);
        CollectionAssert.AreEqual(new[] { 2, 1600 }, ((VectorDataViewType)output.Schema["A16"].Type).Dimensions.ToArray());
        CollectionAssert.AreEqual(new[] { 2, 20, 1 + 1600 / 64 }, ((VectorDataViewType)output.Schema["Mel"].Type).Dimensions.ToArray());
        Assert.HasCount(3, AudioData.Column(output, "Mel"));
    }

    [TestMethod]
    public void Fit_Throws_NamingColumn_WhenTheInputRateIsUnknown()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(1, 1000), [1000], sampleRate: null);
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.Audio.GpuResample("Out", "Audio").Fit(data));
        StringAssert.Contains(e.Message, "'Audio'");
        StringAssert.Contains(e.Message, "InputSampleRate");
    }

    [TestMethod]
    public void Options_AreValidated_NamingTheProperty()
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.GpuResample("Out", "Audio", new GpuResampleOptions { Rolloff = 1.5 }));
        Assert.AreEqual("Rolloff", e.ParamName);
    }
}
