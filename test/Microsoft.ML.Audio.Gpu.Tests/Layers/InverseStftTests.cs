using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class InverseStftTests
{
    /// <summary>STFT then inverse STFT in float32: two FFTs and a division by the window-square sum, each with
    /// rounding of a few ulps, relative to max |x| (measured: below 1e-6).</summary>
    private const double RoundTripRel = 1e-5;

    /// <summary>float64 round trip: limited by float64 FFT rounding (measured: below 1e-15).</summary>
    private const double RoundTripFloat64Rel = 1e-12;

    /// <summary>float32 inverse FFT and overlap-add against torch.istft in float64 on the same float32 spectrum,
    /// relative to the largest sample (measured: below 1e-6).</summary>
    private const double TorchIstftRel = 1e-5;

    public static IEnumerable<object[]> TorchCases => InverseFramingWindowsFixtures.CaseNames("istft");

    private static Tensor Signal(string name) => tensor(ReferenceFixtures.Signal(name).samples.Data);

    [TestMethod]
    [DataRow("chirp16k")]
    [DataRow("tones22k")]
    [DataRow("speech44k")]
    [DataRow("noise8k")]
    [DataRow("random")]
    public void RoundTrip_RestoresSignal_ForHannAt75PercentOverlap(string signal)
    {
        using var scope = NewDisposeScope();
        var x = signal == "random" ? randn(3001, generator: new Generator(seed: 11)) : Signal(signal);
        using var stft = AudioLayers.Stft(n_fft: 512, hop_length: 128);
        using var istft = AudioLayers.InverseStft(n_fft: 512, hop_length: 128);

        var y = istft.forward(stft.call(x), length: x.shape[0]);
        Compare.Shape(y, [x.shape[0]], signal);
        Assert.AreEqual(ScalarType.Float32, y.dtype);
        Compare.RelativeToMax(Compare.ToArray(y), Compare.ToArray(x), RoundTripRel, $"{signal} round trip");
    }

    [TestMethod]
    [DataRow(512L, 400L, 100L, WindowType.Hann)]
    [DataRow(256L, 256L, 64L, WindowType.Hamming)]
    [DataRow(256L, 200L, 100L, WindowType.Rectangular)]
    public void RoundTrip_RestoresSignal_ForShortAndOtherWindows(long nFft, long win, long hop, WindowType window)
    {
        using var scope = NewDisposeScope();
        var x = Signal("chirp16k");
        using var stft = AudioLayers.Stft(n_fft: nFft, win_length: win, hop_length: hop, window: window);
        using var istft = AudioLayers.InverseStft(n_fft: nFft, win_length: win, hop_length: hop, window: window);
        var y = istft.forward(stft.call(x), length: x.shape[0]);
        Compare.Shape(y, [x.shape[0]], "round trip");
        Compare.RelativeToMax(Compare.ToArray(y), Compare.ToArray(x), RoundTripRel, $"{window} {nFft}/{win}/{hop}");
    }

    [TestMethod]
    public void RoundTrip_KeepsBatchAndChannelDimensions()
    {
        using var scope = NewDisposeScope();
        using var stft = AudioLayers.Stft(n_fft: 256, hop_length: 64);
        using var istft = AudioLayers.InverseStft(n_fft: 256, hop_length: 64);
        var batch = randn(new long[] { 2, 3, 1001 }, generator: new Generator(seed: 5));

        var spec = stft.call(batch);
        var y = istft.forward(spec, length: 1001);
        Compare.Shape(y, [2, 3, 1001], "(batch, channels, time)");
        Compare.RelativeToMax(Compare.ToArray(y), Compare.ToArray(batch), RoundTripRel, "batched round trip");
        for (int b = 0; b < 2; b++)
            for (int ch = 0; ch < 3; ch++)
                Compare.RelativeToMax(Compare.ToArray(y[b, ch]), Compare.ToArray(istft.forward(spec[b, ch], length: 1001)), Tolerances.SameComputationRel, $"[{b},{ch}] vs alone");

        Compare.Shape(istft.forward(spec[0], length: 1001), [3, 1001], "(channels, time)");
    }

    [TestMethod]
    public void Forward_WithoutLength_GivesHopTimesFramesMinusOne()
    {
        using var scope = NewDisposeScope();
        using var stft = AudioLayers.Stft(n_fft: 256, hop_length: 64);
        using var istft = AudioLayers.InverseStft(n_fft: 256, hop_length: 64);
        var x = randn(1000, generator: new Generator(seed: 6));
        var spec = stft.call(x); // 1 + 1000 / 64 = 16 frames
        var y = istft.call(spec);
        Compare.Shape(y, [64 * 15], "no length");
        Compare.RelativeToMax(Compare.ToArray(y), Compare.ToArray(x.narrow(0, 0, 960)), RoundTripRel, "prefix");

        // The frames cover [-128, 1088) of the signal (n_fft / 2 of reflection at each end): a longer length restores
        // all 1000 samples and pads the 12 samples beyond the last frame with zeros.
        var padded = istft.forward(spec, length: 1100);
        Compare.Shape(padded, [1100], "padded");
        Compare.RelativeToMax(Compare.ToArray(padded.narrow(0, 0, 1000)), Compare.ToArray(x), RoundTripRel, "all samples");
        Assert.AreEqual(0f, padded.narrow(0, 1088, 12).abs().max().item<float>(), "samples past the last frame are zeros");
    }

    [TestMethod]
    [DynamicData(nameof(TorchCases))]
    public void Forward_MatchesTorchIstft(string name)
    {
        var c = InverseFramingWindowsFixtures.Case(name);
        var input = InverseFramingWindowsFixtures.Data(c, "input"); // [F, T, 2]
        var expected = InverseFramingWindowsFixtures.Data(c);
        using var scope = NewDisposeScope();
        using var istft = AudioLayers.InverseStft(n_fft: c.Long("n_fft"), win_length: c.Long("win_length"), hop_length: c.Long("hop_length"),
            window: ReferenceFixtures.Window(c.String("window")!));
        var spec = view_as_complex(tensor(input.Data).reshape(input.Shape));

        var y = istft.forward(spec, length: c.Long("length"));
        Compare.RelativeToMax(y, expected, TorchIstftRel, name);
    }

    [TestMethod]
    public void Functional_MatchesModule_AndFollowsFloat64()
    {
        using var scope = NewDisposeScope();
        var x = Signal("tones22k").to(ScalarType.Float64);
        var window = Functional.window(WindowType.Hann, 512, dtype: ScalarType.Float64);
        var spec = Functional.stft(x, 512, 128, window);
        var y = Functional.istft(spec, 512, 128, window, length: x.shape[0]);
        Assert.AreEqual(ScalarType.Float64, y.dtype);
        Compare.Shape(y, [x.shape[0]], "float64");
        double err = (y - x).abs().max().item<double>() / x.abs().max().item<double>();
        Console.WriteLine($"float64 round trip: max |diff| / max |x| = {err:G3} (tolerance {RoundTripFloat64Rel:G3})");
        Assert.IsLessThanOrEqualTo(RoundTripFloat64Rel, err, $"float64 round trip error {err:G3}");
    }

    [TestMethod]
    public void Forward_PassesGradientToTheSpectrum()
    {
        using var scope = NewDisposeScope();
        using var istft = AudioLayers.InverseStft(n_fft: 128, hop_length: 32);
        Assert.AreEqual(0, istft.parameters().Count(), "the inverse STFT has no parameters");
        var spec = view_as_complex(randn(new long[] { 2, 65, 20, 2 }, generator: new Generator(seed: 8))).requires_grad_();
        istft.call(spec).pow(HeldScalars.Two).sum().backward();
        Assert.IsNotNull(spec.grad);
        Assert.IsGreaterThan(0.0, spec.grad.abs().sum().item<float>(), "no gradient reached the spectrum");
    }

    [TestMethod]
    public void Forward_MovesWithModuleTo_Float64()
    {
        using var scope = NewDisposeScope();
        using var istft = AudioLayers.InverseStft(n_fft: 64, hop_length: 16);
        istft.to(ScalarType.Float64);
        Assert.AreEqual(ScalarType.Float64, istft.Window.dtype);
        var spec = view_as_complex(randn(new long[] { 33, 10, 2 }, dtype: ScalarType.Float64));
        Assert.AreEqual(ScalarType.Float64, istft.call(spec).dtype);
    }

    private static void AssertNames(string expectedParam, Action act)
    {
        var ex = Assert.Throws<ArgumentException>(act);
        Assert.AreEqual(expectedParam, ex.ParamName, ex.Message);
        StringAssert.Contains(ex.Message, expectedParam);
    }

    [TestMethod]
    public void Constructor_Throws_NamingHop_WhenHopExceedsFft()
        => AssertNames("hop_length", () => AudioLayers.InverseStft(n_fft: 256, hop_length: 300));

    [TestMethod]
    public void Constructor_Throws_NamingWindow_WhenNolaFails()
        // A 100-sample window centred in 512 samples leaves gaps at a hop of 200.
        => AssertNames("window", () => AudioLayers.InverseStft(n_fft: 512, win_length: 100, hop_length: 200, window: WindowType.Rectangular));

    [TestMethod]
    public void Constructor_Throws_NamingFft_WhenShorterThanWindow()
        => AssertNames("n_fft", () => AudioLayers.InverseStft(n_fft: 256, win_length: 400));

    [TestMethod]
    public void Forward_Throws_NamingInput_WhenRealOrWrongBins()
    {
        using var istft = AudioLayers.InverseStft(n_fft: 256, hop_length: 64);
        AssertNames("input", () => istft.call(zeros(129, 10)));
        AssertNames("input", () => istft.call(zeros(new long[] { 128, 10 }, ScalarType.ComplexFloat32)));
    }

    [TestMethod]
    public void Forward_Throws_NamingLength_WhenNegative()
    {
        using var istft = AudioLayers.InverseStft(n_fft: 256, hop_length: 64);
        AssertNames("length", () => istft.forward(zeros(new long[] { 129, 10 }, ScalarType.ComplexFloat32), length: -1));
    }

    [TestMethod]
    public void Functional_Throws_NamingWindow_WhenItsLengthIsNotFft()
        => AssertNames("window", () => Functional.istft(zeros(new long[] { 129, 10 }, ScalarType.ComplexFloat32), 256, 64, ones(200)));
}
