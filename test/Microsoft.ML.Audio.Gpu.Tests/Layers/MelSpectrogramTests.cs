using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class MelSpectrogramTests
{
    public static IEnumerable<object[]> MelSpectrogramCases => ReferenceFixtures.CaseNames("melspec");

    [TestMethod]
    [DynamicData(nameof(MelSpectrogramCases))]
    public void Forward_MatchesTorchaudioMelSpectrogram(string name)
    {
        var c = ReferenceFixtures.Case(name);
        var (signal, rate) = ReferenceFixtures.Signal(c.String("signal")!);
        Assert.AreEqual(rate, c.Double("sample_rate"));
        var expected = ReferenceFixtures.Data(c.String("expected")!);
        using var scope = NewDisposeScope();
        using var melspec = AudioLayers.MelSpectrogram(c.Double("sample_rate"), c.Long("n_fft"), c.Long("win_length"), c.Long("hop_length"),
            WindowType.Hann, FramePadding.Center, ReferenceFixtures.PadMode(c.String("pad_mode")), c.Double("power"), c.Long("n_mels"),
            c.Double("f_min"), c.Double("f_max"), ReferenceFixtures.MelScale(c.String("mel_scale")), ReferenceFixtures.MelNorm(c.String("norm")));

        Compare.RelativeToMax(melspec.call(tensor(signal.Data)), expected, Tolerances.MelSpectrogramRel, name);
    }

    [TestMethod]
    public void Forward_WithDecibels_EqualsTheLayersOneByOne()
    {
        using var scope = NewDisposeScope();
        using var tenth = 0.1.ToScalar();
        var x = randn(new long[] { 2, 2, 8000 }, generator: new Generator(seed: 5)).mul(tenth);
        using var fused = AudioLayers.MelSpectrogram(16000, n_fft: 512, win_length: 400, hop_length: 160, n_mels: 64, to_db: true, top_db: 80);
        using var stft = AudioLayers.Stft(512, 400, 160, output: SpectrumType.Power);
        using var mel = AudioLayers.MelFilterbank(16000, 512, 64);
        using var db = AudioLayers.AmplitudeToDecibel(top_db: 80);

        var a = fused.call(x);
        var b = db.call(mel.call(stft.call(x)));
        Compare.Shape(a, [2, 2, 64, 51], "fused");
        CollectionAssert.AreEqual(Compare.ToArray(b), Compare.ToArray(a), "fused and step-by-step differ");
        Assert.AreEqual(3, fused.children().Count(), "stft, mel and db are registered submodules");
    }

    [TestMethod]
    public void Constructor_Throws_WhenStagesDoNotFit()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => new MelSpectrogram("m",
            AudioLayers.Stft(512, output: SpectrumType.Power), AudioLayers.MelFilterbank(16000, n_fft: 1024), null));
        Assert.AreEqual("mel", ex.ParamName);
        ex = Assert.ThrowsExactly<ArgumentException>(() => new MelSpectrogram("m",
            AudioLayers.Stft(512, output: SpectrumType.Complex), AudioLayers.MelFilterbank(16000, n_fft: 512), null));
        Assert.AreEqual("stft", ex.ParamName);
        ex = Assert.ThrowsExactly<ArgumentException>(() => new MelSpectrogram("m",
            AudioLayers.Stft(512, output: SpectrumType.Magnitude), AudioLayers.MelFilterbank(16000, n_fft: 512),
            AudioLayers.AmplitudeToDecibel(SpectrumType.Power)));
        Assert.AreEqual("db", ex.ParamName);
    }
}
