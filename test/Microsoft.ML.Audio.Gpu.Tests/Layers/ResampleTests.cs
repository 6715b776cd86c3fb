using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class ResampleTests
{
    /// <summary>float32 conv1d (sums of up to 475 products) with a kernel rounded to float32, against torchaudio in
    /// float64, relative to the largest output sample.</summary>
    private const double TorchaudioRel = 1e-5;

    /// <summary>float64 input and kernel: limited by the float32 storage of the reference (6e-8).</summary>
    private const double TorchaudioFloat64Rel = 1e-6;

    /// <summary>A batched or multichannel signal gives each row what it gives alone: the same float32 conv1d,
    /// up to summation order.</summary>
    private const double RowsVsAloneRel = 1e-6;

    /// <summary>Frames at each end left out of quality measurements: the filter meets the zeros outside the signal
    /// there (0.1 s, as the decoder's resampling tests; the default filter reaches about 0.4 ms).</summary>
    private const double EdgeSeconds = 0.1;

    /// <summary>Measured 44.1 → 16 kHz, 1 kHz sine, float32, Hann: 68.0 dB (torchaudio float32 and float64: 68.0 dB).
    /// The decoder's resampler (IO/SincResampler.cs, 64 zero crossings, Kaiser β = 10) gives 120.9 dB: torchaudio's
    /// default filter has only 6 zero crossings, so its passband ripple limits the SNR.</summary>
    private const double HannSineSnrDb = 67;

    /// <summary>Measured with the Kaiser window (β = 14.77): 140.3 dB in float32 (float32 arithmetic is the limit;
    /// torchaudio 150.9 dB in float64, and 113.2 dB in float32 because torchaudio.functional then builds the kernel
    /// itself in float32, where this layer builds it in float64 and rounds it once).</summary>
    private const double KaiserSineSnrDb = 135;

    /// <summary>Measured 9 kHz at 44.1 → 16 kHz, Hann: the residual is only 16.8 dB below the tone (torchaudio: the
    /// same), against 115.8 dB for the decoder's resampler: the short filter's transition band, centred on 0.99 × 8 kHz,
    /// reaches past 9 kHz.</summary>
    private const double Hann9kHzResidualDb = -16;

    /// <summary>Measured with the Kaiser window: −11.9 dB (wider main lobe, deeper stopband further out).</summary>
    private const double Kaiser9kHzResidualDb = -11;

    public static IEnumerable<object[]> TorchaudioCases => ResamplingFixtures.CaseNames("resample");

    private static Tensor Signal(string name) => tensor(ReferenceFixtures.Signal(name).samples.Data);

    private static Resample LayerFor(System.Text.Json.JsonElement c, ScalarType? dtype = null)
        => AudioLayers.Resample(c.Long("orig_freq"), c.Long("new_freq"), c.Long("lowpass_filter_width"), c.Double("rolloff"),
            ResamplingFixtures.Method(c.String("resampling_method")), c.NullableDouble("beta"), dtype: dtype);

    [TestMethod]
    [DynamicData(nameof(TorchaudioCases))]
    public void Forward_MatchesTorchaudioResample(string name)
    {
        var c = ResamplingFixtures.Case(name);
        var expected = ResamplingFixtures.Data(c);
        using var scope = NewDisposeScope();
        var x = Signal(c.String("signal")!);
        using var resample = LayerFor(c);

        var y = resample.call(x);
        long length = (long)Math.Ceiling(x.shape[0] * (double)c.Long("new_freq") / c.Long("orig_freq"));
        Compare.Shape(y, [length], name);
        Assert.AreEqual(ScalarType.Float32, y.dtype);
        Compare.RelativeToMax(y, expected, TorchaudioRel, name);
    }

    [TestMethod]
    [DynamicData(nameof(TorchaudioCases))]
    public void Functional_MatchesTorchaudioResample_InFloat64(string name)
    {
        var c = ResamplingFixtures.Case(name);
        var expected = ResamplingFixtures.Data(c);
        using var scope = NewDisposeScope();
        var x = Signal(c.String("signal")!).to(ScalarType.Float64);

        var y = Functional.resample(x, c.Long("orig_freq"), c.Long("new_freq"), c.Long("lowpass_filter_width"), c.Double("rolloff"),
            ResamplingFixtures.Method(c.String("resampling_method")), c.NullableDouble("beta"));
        Assert.AreEqual(ScalarType.Float64, y.dtype, "float64 follows the input");
        Compare.RelativeToMax(y, expected, TorchaudioFloat64Rel, name + " float64");

        using var module = LayerFor(c, ScalarType.Float64);
        Compare.RelativeToMax(module.call(x), expected, TorchaudioFloat64Rel, name + " float64 module");
    }

    [TestMethod]
    [DataRow(44100L, 16000L, 8192L, 2973L)]  // 8192 · 160 / 441 = 2972.15
    [DataRow(16000L, 8000L, 4001L, 2001L)]   // 2000.5 rounds up
    [DataRow(8000L, 16000L, 2401L, 4802L)]
    [DataRow(22050L, 16000L, 1L, 1L)]
    [DataRow(22050L, 16000L, 4410L, 3200L)]
    public void Forward_GivesCeilOfTimeTimesRatio_ForMonoBatchedAndMultichannel(long from, long to, long time, long expected)
    {
        using var scope = NewDisposeScope();
        using var resample = AudioLayers.Resample(from, to);
        Assert.AreEqual(expected, resample.output_length(time));
        Assert.AreEqual(expected, Functional.resampled_length(time, from, to));

        var batch = randn(new long[] { 2, 3, time }, generator: new Generator(seed: 3));
        var y = resample.call(batch);
        Compare.Shape(y, [2, 3, expected], "(batch, channels, time)");
        Compare.Shape(resample.call(batch[0]), [3, expected], "(batch, time)");
        Compare.Shape(resample.call(batch[0, 0]), [expected], "(time)");
        for (int b = 0; b < 2; b++)
            for (int ch = 0; ch < 3; ch++)
                Compare.RelativeToMax(Compare.ToArray(y[b, ch]), Compare.ToArray(resample.call(batch[b, ch])), RowsVsAloneRel, $"[{b},{ch}] vs alone");
    }

    [TestMethod]
    public void Constructor_ReducesRatesByTheirGcd_AndRegistersTheKernel()
    {
        using var resample = AudioLayers.Resample(44100, 16000);
        // gcd 100: 441 → 160; base = 0.99 · 160 = 158.4; width = ⌈6 · 441 / 158.4⌉ = 17; 2 · 17 + 441 taps.
        Assert.AreEqual(17L, resample.width);
        CollectionAssert.AreEqual(new long[] { 160, 1, 475 }, resample.Kernel.shape);
        Assert.AreEqual(ScalarType.Float32, resample.Kernel.dtype);
        Assert.AreEqual(1, resample.buffers().Count(), "the kernel is the one buffer");
        Assert.AreEqual(0, resample.parameters().Count(), "the layer has no parameters");
        Assert.IsNull(resample.beta);
        using var kaiser = AudioLayers.Resample(44100, 16000, resampling_method: ResamplingMethod.SincInterpKaiser);
        Assert.AreEqual(Functional.ResampleKaiserBeta, kaiser.beta);
    }

    [TestMethod]
    public void Forward_ReturnsTheInput_WhenRatesAreEqual()
    {
        using var scope = NewDisposeScope();
        using var resample = AudioLayers.Resample(16000, 16000);
        var x = randn(2, 100);
        var y = resample.call(x);
        Compare.Shape(y, [2, 100], "equal rates");
        Assert.AreEqual(0f, (y - x).abs().max().item<float>());
        Assert.AreEqual(0f, (Functional.resample(x, 8000, 8000) - x).abs().max().item<float>());
    }

    [TestMethod]
    public void Forward_FollowsFloat64_AndModuleTo()
    {
        using var scope = NewDisposeScope();
        using var resample = AudioLayers.Resample(8000, 16000);
        var x = randn(new long[] { 500 }, dtype: ScalarType.Float64);
        Assert.AreEqual(ScalarType.Float64, resample.call(x).dtype, "a float32 kernel is cast to the input's type");
        resample.to(ScalarType.Float64);
        Assert.AreEqual(ScalarType.Float64, resample.Kernel.dtype, "the kernel is a registered buffer");
        Assert.AreEqual(ScalarType.Float64, resample.call(x).dtype);
    }

    [TestMethod]
    public void Forward_PassesGradientToTheInput()
    {
        using var scope = NewDisposeScope();
        using var resample = AudioLayers.Resample(22050, 16000);
        var x = randn(new long[] { 2, 1000 }, generator: new Generator(seed: 4)).requires_grad_();
        resample.call(x).pow(HeldScalars.Two).sum().backward();
        Assert.IsNotNull(x.grad);
        Assert.IsGreaterThan(0.0, x.grad.abs().sum().item<float>(), "no gradient reached the input");
    }

    private static Tensor Sine(int rate, double frequency, double amplitude, int samples)
    {
        using var zero = 0.ToScalar();
        using var stop = samples.ToScalar();
        var n = arange(zero, stop, HeldScalars.One, dtype: ScalarType.Float64);
        using var w = (2 * Math.PI * frequency / rate).ToScalar();
        using var a = amplitude.ToScalar();
        return n.mul(w).sin().mul(a);
    }

    private static (double snrDb, double residualDb) Quality(ResamplingMethod method)
    {
        const int from = 44100, to = 16000;
        const double amplitude = 0.5;
        using var scope = NewDisposeScope();
        using var resample = AudioLayers.Resample(from, to, resampling_method: method);
        int skip = (int)(EdgeSeconds * to);

        var y = resample.call(Sine(from, 1000, amplitude, from).to(ScalarType.Float32)).to(ScalarType.Float64);
        var exact = Sine(to, 1000, amplitude, (int)y.shape[0]);
        var middle = y.narrow(0, skip, y.shape[0] - 2 * skip);
        var reference = exact.narrow(0, skip, y.shape[0] - 2 * skip);
        double snr = 10 * Math.Log10(reference.pow(HeldScalars.Two).sum().item<double>() / (middle - reference).pow(HeldScalars.Two).sum().item<double>());

        var alias = resample.call(Sine(from, 9000, amplitude, from).to(ScalarType.Float32)).to(ScalarType.Float64);
        var aliasMiddle = alias.narrow(0, skip, alias.shape[0] - 2 * skip);
        double residual = 20 * Math.Log10(Math.Sqrt(aliasMiddle.pow(HeldScalars.Two).mean().item<double>()) / (amplitude / Math.Sqrt(2)));
        Console.WriteLine($"{method}, 44.1 -> 16 kHz: 1 kHz sine SNR {snr:F1} dB, 9 kHz residual {residual:F1} dB");
        return (snr, residual);
    }

    [TestMethod]
    [DataRow(ResamplingMethod.SincInterpHann, HannSineSnrDb, Hann9kHzResidualDb)]
    [DataRow(ResamplingMethod.SincInterpKaiser, KaiserSineSnrDb, Kaiser9kHzResidualDb)]
    public void Forward_ResamplesASineToTheExactSine_AndAttenuatesA9kHzTone(ResamplingMethod method, double minSnrDb, double maxResidualDb)
    {
        var (snr, residual) = Quality(method);
        Assert.IsGreaterThanOrEqualTo(minSnrDb, snr, $"SNR {snr:F1} dB");
        Assert.IsLessThanOrEqualTo(maxResidualDb, residual, $"9 kHz residual {residual:F1} dB");
    }

    private static void AssertNames(string expectedParam, Action act)
    {
        var ex = Assert.Throws<ArgumentException>(act);
        Assert.AreEqual(expectedParam, ex.ParamName, ex.Message);
        StringAssert.Contains(ex.Message, expectedParam);
    }

    [TestMethod]
    public void Constructor_Throws_NamingTheRate_WhenNotPositive()
    {
        AssertNames("orig_freq", () => AudioLayers.Resample(0, 16000));
        AssertNames("new_freq", () => AudioLayers.Resample(16000, -8000));
        AssertNames("orig_freq", () => Functional.resample(zeros(10), -1, 16000));
        AssertNames("new_freq", () => Functional.resample(zeros(10), 16000, 0));
    }

    [TestMethod]
    public void Constructor_Throws_NamingTheFilterArgument_WhenInvalid()
    {
        AssertNames("lowpass_filter_width", () => AudioLayers.Resample(44100, 16000, lowpass_filter_width: 0));
        AssertNames("rolloff", () => AudioLayers.Resample(44100, 16000, rolloff: 0));
        AssertNames("rolloff", () => AudioLayers.Resample(44100, 16000, rolloff: 1.5));
        AssertNames("rolloff", () => AudioLayers.Resample(44100, 16000, rolloff: double.NaN));
        AssertNames("resampling_method", () => AudioLayers.Resample(44100, 16000, resampling_method: (ResamplingMethod)7));
        AssertNames("beta", () => AudioLayers.Resample(44100, 16000, beta: 8.0));
        AssertNames("beta", () => AudioLayers.Resample(44100, 16000, resampling_method: ResamplingMethod.SincInterpKaiser, beta: -1));
        AssertNames("dtype", () => AudioLayers.Resample(44100, 16000, dtype: ScalarType.Int32));
    }

    [TestMethod]
    public void Constructor_Throws_NamingNewFreq_WhenTheRatesShareTooSmallADivisor()
        // gcd(44100, 16001) = 1: 16001 phases of 2 · 17 + 44100 taps, 706 million weights.
        => AssertNames("new_freq", () => AudioLayers.Resample(44100, 16001));

    [TestMethod]
    public void Functional_ChecksItsArguments_EvenWhenTheRatesAreEqual()
    {
        AssertNames("rolloff", () => Functional.resample(zeros(10), 16000, 16000, rolloff: 0));
        AssertNames("beta", () => Functional.resample(zeros(10), 16000, 16000, beta: 5.0));
    }

    [TestMethod]
    public void Forward_Throws_NamingInput_WhenNotAFloatingPointSignal()
    {
        using var resample = AudioLayers.Resample(44100, 16000);
        AssertNames("input", () => resample.call(zeros(100, dtype: ScalarType.Int64)));
        AssertNames("input", () => resample.call(tensor(1.0f)));
        AssertNames("waveform", () => Functional.resample(zeros(100, dtype: ScalarType.Int16), 44100, 16000));
    }
}
