using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

[TestClass]
public sealed class MelSpectrogramGpuEstimatorTests
{
    public static IEnumerable<object[]> MelSpectrogramCases => ReferenceFixtures.CaseNames("melspec");

    [TestMethod]
    [DynamicData(nameof(MelSpectrogramCases))]
    public void Transform_MatchesTorchaudioMelSpectrogram(string name)
    {
        var c = ReferenceFixtures.Case(name);
        var (signal, rate) = ReferenceFixtures.Signal(c.String("signal")!);
        var expected = ReferenceFixtures.Data(c.String("expected")!);
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, [new AudioRow { Audio = signal.Data }], [(int)signal.Length], rate);
        var options = new MelSpectrogramOptions
        {
            FftLength = (int)c.Long("n_fft"), WindowLength = (int)c.Long("win_length"), HopLength = (int)c.Long("hop_length"),
            PadMode = ReferenceFixtures.PadMode(c.String("pad_mode")), Power = c.Double("power"), MelBinCount = (int)c.Long("n_mels"),
            MinFrequency = c.Double("f_min"), MaxFrequency = c.Double("f_max"), MelScale = ReferenceFixtures.MelScale(c.String("mel_scale")),
            MelNorm = ReferenceFixtures.MelNorm(c.String("norm")), ToDecibel = false,
        };
        var output = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", options).Fit(data).Transform(data);

        var type = (VectorDataViewType)output.Schema["Mel"].Type;
        CollectionAssert.AreEqual(expected.Shape.Select(d => (int)d).ToArray(), type.Dimensions.ToArray(), "output dimensions");
        Compare.RelativeToMax(AudioData.Column(output, "Mel")[0], expected.Data, Tolerances.MelSpectrogramRel, name);
    }

    [TestMethod]
    public void Fused_EqualsStepByStep()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(5, 8000), [8000], 16000);
        var options = new MelSpectrogramOptions { FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 64, TopDb = 60, BatchSize = 3 };

        var fused = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", options).Fit(data).Transform(data);
        var steps = ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = 512, WindowLength = 400, HopLength = 160 })
            .Append(ml.Transforms.Audio.GpuMel("MelPower", "Spec", new GpuMelOptions { MelBinCount = 64 }))
            .Append(ml.Transforms.Audio.GpuDecibel("Mel", "MelPower", new GpuDecibelOptions { TopDb = 60 }))
            .Fit(data).Transform(data);

        Assert.AreEqual(fused.Schema["Mel"].Type, steps.Schema["Mel"].Type);
        var a = AudioData.Column(fused, "Mel");
        var b = AudioData.Column(steps, "Mel");
        Assert.HasCount(5, a);
        for (int i = 0; i < a.Length; i++)
            Compare.RelativeToMax(a[i], b[i], Tolerances.SameComputationRel, $"row {i}: fused vs GpuStft → GpuMel → GpuDecibel");
    }

    [TestMethod]
    public void Transform_MatchesLayer_ForMultiChannelAudio()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 3).Select(i => new AudioRow { Id = i, Audio = AudioData.Noise(2 * 3000, i) }).ToArray();
        var data = AudioData.Load(ml, rows, [2, 3000], 16000, channels: 2);
        var options = new MelSpectrogramOptions { FftLength = 256, HopLength = 100, MelBinCount = 32 };
        var output = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", options).Fit(data).Transform(data);

        var type = (VectorDataViewType)output.Schema["Mel"].Type;
        CollectionAssert.AreEqual(new[] { 2, 32, 31 }, type.Dimensions.ToArray());
        using var layer = AudioLayers.MelSpectrogram(16000, n_fft: 256, hop_length: 100, n_mels: 32, to_db: true, top_db: 80);
        var values = AudioData.Column(output, "Mel");
        for (int i = 0; i < rows.Length; i++)
        {
            // One example of two channels: the 80 dB range is measured over both channels together.
            var expected = Compare.ToArray(layer.call(tensor(rows[i].Audio).reshape(1, 2, 3000)));
            Compare.RelativeToMax(values[i], expected, Tolerances.SameComputationRel, $"row {i}");
        }
    }

    [TestMethod]
    public void Transform_HandlesVariableLengthRows_WithFrameCountFromLength()
    {
        var ml = new MLContext(1);
        int[] lengths = [4000, 1600, 4000, 2500, 1600];
        var rows = lengths.Select((n, i) => new AudioRow { Id = i, Audio = AudioData.Noise(n, i) }).ToArray();
        var data = AudioData.Load(ml, rows, null, 16000);
        var output = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", new MelSpectrogramOptions { FftLength = 256, HopLength = 128, MelBinCount = 40, BatchSize = 4 })
            .Fit(data).Transform(data);

        var column = output.Schema["Mel"];
        Assert.IsFalse(((VectorDataViewType)column.Type).IsKnownSize, "variable-length input gives a variable-size output");
        int bins = 0;
        column.Annotations.GetValue(AudioAnnotationKinds.BinCount, ref bins);
        Assert.AreEqual(40, bins);
        using var layer = AudioLayers.MelSpectrogram(16000, n_fft: 256, hop_length: 128, n_mels: 40, to_db: true, top_db: 80);
        var values = AudioData.Column(output, "Mel");
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.AreEqual(40 * (1 + lengths[i] / 128), values[i].Length, $"row {i}: frames = 1 + length / hop");
            Compare.RelativeToMax(values[i], Compare.ToArray(layer.call(tensor(rows[i].Audio))), Tolerances.SameComputationRel, $"row {i}");
        }
    }
}
