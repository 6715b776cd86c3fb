using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class ComposedTests
{
    /// <summary>STFT then inverse STFT in float32, relative to max |x|: two FFTs and a division by the
    /// window-square sum, each with rounding of a few ulps (InverseStftTests measured below 1e-6).</summary>
    private const double ReconstructionRel = 1e-5;

    /// <summary>The same round trip in float64: limited by float64 FFT rounding.</summary>
    private const double ReconstructionFloat64Rel = 1e-12;

    private static readonly string[] FixtureSignals = ["chirp16k", "noise8k", "speech44k", "tones22k"];

    /// <summary>The fixture signals cut to the shortest (noise8k, 2401 samples) and stacked: (4, 2401).</summary>
    private static Tensor FixtureBatch()
    {
        var signals = FixtureSignals.Select(n => ReferenceFixtures.Signal(n).samples.Data).ToArray();
        int length = signals.Min(s => s.Length);
        return stack(signals.Select(s => tensor(s[..length])).ToArray());
    }

    [TestMethod]
    [DataRow(new long[] { 1000 }, DisplayName = "(time)")]
    [DataRow(new long[] { 3, 1000 }, DisplayName = "(batch, time)")]
    [DataRow(new long[] { 2, 3, 1000 }, DisplayName = "(batch, channels, time)")]
    public void StftMagnitudePhase_StacksMagnitudeAndPhaseOnANewAxis_EqualToTheLayersAlone(long[] shape)
    {
        using var scope = NewDisposeScope();
        using var magPhase = AudioLayers.StftMagnitudePhase(n_fft: 256, hop_length: 64);
        using var stft = AudioLayers.Stft(n_fft: 256, hop_length: 64);
        using var magnitude = AudioLayers.Magnitude();
        using var phase = AudioLayers.Phase();
        var x = randn(shape, generator: new Generator(seed: 12));

        var y = magPhase.call(x);
        long frames = 1 + 1000 / 64;
        Compare.Shape(y, [.. shape[..^1], 2, 129, frames], "(..., 2, freq, frames)");
        Assert.AreEqual(ScalarType.Float32, y.dtype);
        var spec = stft.call(x);
        var mag = magnitude.call(spec);
        var ph = phase.call(spec);
        Assert.AreEqual(0f, (y.select(-3, 0) - mag).abs().max().item<float>(), "channel 0 is Magnitude(Stft(x))");
        Assert.AreEqual(0f, (y.select(-3, 1) - ph).abs().max().item<float>(), "channel 1 is Phase(Stft(x))");
    }

    [TestMethod]
    public void StftMagnitudePhase_PassesItsArgumentsToTheStft_AndRegistersTheStages()
    {
        using var magPhase = AudioLayers.StftMagnitudePhase(n_fft: 512, win_length: 400, hop_length: 160, window: WindowType.Hamming,
            padding: FramePadding.Valid);
        Assert.AreEqual(512L, magPhase.stft.n_fft);
        Assert.AreEqual(400L, magPhase.stft.win_length);
        Assert.AreEqual(160L, magPhase.stft.hop_length);
        Assert.AreEqual(WindowType.Hamming, magPhase.stft.window_type);
        Assert.AreEqual(FramePadding.Valid, magPhase.stft.padding);
        Assert.AreEqual(SpectrumType.Complex, magPhase.stft.output);
        CollectionAssert.AreEquivalent(new[] { "stft", "magnitude", "phase" }, magPhase.named_children().Select(c => c.name).ToArray());
        using var scope = NewDisposeScope();
        Compare.Shape(magPhase.call(randn(2, 1000)), [2, 2, 257, 1 + (1000 - 400) / 160], "Valid framing: 1 + (length - win_length) / hop");
    }

    [TestMethod]
    public void StftMagnitudePhase_Throws_NamingStft_WhenItIsNotComplex()
    {
        using var power = AudioLayers.Stft(output: SpectrumType.Power);
        using var magnitude = AudioLayers.Magnitude();
        using var phase = AudioLayers.Phase();
        var ex = Assert.Throws<ArgumentException>(() => new StftMagnitudePhase("x", power, magnitude, phase));
        Assert.AreEqual("stft", ex.ParamName);
    }

    [TestMethod]
    [DataRow(512L, null, null, WindowType.Hann, DisplayName = "Hann, 75% overlap (default)")]
    [DataRow(1024L, 1024L, 256L, WindowType.Hann, DisplayName = "1024 / 256")]
    [DataRow(512L, 400L, 100L, WindowType.Hamming, DisplayName = "Hamming 400 in 512 / 100")]
    [DataRow(256L, 256L, 128L, WindowType.Hann, DisplayName = "Hann, 50% overlap")]
    public void PerfectReconstructionStftIstft_RestoresBatchedFixtureSignals(long nFft, long? win, long? hop, WindowType window)
    {
        using var scope = NewDisposeScope();
        var (stft, istft) = AudioLayers.PerfectReconstructionStftIstft(nFft, win, hop, window);
        using var _ = stft;
        using var __ = istft;
        var x = FixtureBatch();

        var spec = stft.call(x);
        Compare.Shape(spec, [4, nFft / 2 + 1, stft.frame_count(x.shape[1])], "spectrum");
        var y = istft.forward(spec, length: x.shape[1]);
        Compare.Shape(y, [4, x.shape[1]], "(batch, time)");
        Compare.RelativeToMax(Compare.ToArray(y), Compare.ToArray(x), ReconstructionRel, $"{window} {nFft}/{win}/{hop}");
    }

    [TestMethod]
    public void PerfectReconstructionStftIstft_DefaultsToHannAt75PercentOverlap_AndConfiguresBothAlike()
    {
        var (stft, istft) = AudioLayers.PerfectReconstructionStftIstft();
        using var _ = stft;
        using var __ = istft;
        Assert.AreEqual(LayerDefaults.FftLength, stft.n_fft);
        Assert.AreEqual(stft.n_fft, stft.win_length);
        Assert.AreEqual(stft.win_length / 4, stft.hop_length, "75% overlap");
        Assert.AreEqual(WindowType.Hann, stft.window_type);
        Assert.AreEqual(FramePadding.Center, stft.padding, "the framing InverseStft inverts");
        Assert.AreEqual(SpectrumType.Complex, stft.output);
        Assert.AreEqual((stft.n_fft, stft.win_length, stft.hop_length, stft.window_type),
            (istft.n_fft, istft.win_length, istft.hop_length, istft.window_type));
        Assert.AreEqual(0f, (stft.Window - istft.Window).abs().max().item<float>(), "the same window");
        Assert.AreEqual("stft", stft.GetName());
        Assert.AreEqual("istft", istft.GetName());
    }

    [TestMethod]
    public void PerfectReconstructionStftIstft_RestoresFloat64_AndMultichannel()
    {
        using var scope = NewDisposeScope();
        var (stft, istft) = AudioLayers.PerfectReconstructionStftIstft(n_fft: 256, dtype: ScalarType.Float64);
        using var _ = stft;
        using var __ = istft;
        var x = FixtureBatch().to(ScalarType.Float64).reshape(2, 2, -1);

        var y = istft.forward(stft.call(x), length: x.shape[^1]);
        Assert.AreEqual(ScalarType.Float64, y.dtype);
        Compare.Shape(y, [2, 2, x.shape[^1]], "(batch, channels, time)");
        double err = (y - x).abs().max().item<double>() / x.abs().max().item<double>();
        Console.WriteLine($"float64 round trip: max |diff| / max |x| = {err:G3} (tolerance {ReconstructionFloat64Rel:G3})");
        Assert.IsLessThanOrEqualTo(ReconstructionFloat64Rel, err);
    }

    private static void AssertNames(string expectedParam, Action act)
    {
        var ex = Assert.Throws<ArgumentException>(act);
        Assert.AreEqual(expectedParam, ex.ParamName, ex.Message);
        StringAssert.Contains(ex.Message, expectedParam);
    }

    [TestMethod]
    public void PerfectReconstructionStftIstft_Throws_NamingTheArgument_WhenNoInverseExists()
    {
        // A 100-sample window centred in 512 samples leaves gaps at a hop of 200.
        AssertNames("window", () => AudioLayers.PerfectReconstructionStftIstft(512, 100, 200, WindowType.Rectangular));
        AssertNames("hop_length", () => AudioLayers.PerfectReconstructionStftIstft(256, hop_length: 300));
        AssertNames("n_fft", () => AudioLayers.PerfectReconstructionStftIstft(256, win_length: 400));
        AssertNames("n_fft", () => AudioLayers.PerfectReconstructionStftIstft(0));
    }
}
