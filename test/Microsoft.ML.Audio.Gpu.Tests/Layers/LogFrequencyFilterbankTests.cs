using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class LogFrequencyFilterbankTests
{
    /// <summary>Filterbank built in float64 and stored in float32: rounding alone (6e-8 of the peak).</summary>
    private const double FilterbankRel = 1e-6;

    public static IEnumerable<object[]> Cases => CepstraFilterbanksNormsFixtures.CaseNames("logfb");

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void LogFrequencyFbanks_MatchesKapreFormula(string name)
    {
        var c = CepstraFilterbanksNormsFixtures.Case(name);
        using var fb = Functional.log_frequency_fbanks(c.Double("sample_rate"), c.Long("n_freq"), c.Long("n_bins"), c.Long("bins_per_octave"),
            c.NullableDouble("f_min"), c.Double("spread"));
        Compare.RelativeToMax(fb, CepstraFilterbanksNormsFixtures.Data(c, "expected"), FilterbankRel, name);
    }

    [TestMethod]
    public void EachFilter_SumsToOne_AndPeaksNearItsCentre()
    {
        using var scope = NewDisposeScope();
        using var fb = Functional.log_frequency_fbanks(16000, 1025, n_bins: 60, bins_per_octave: 12, f_min: 100, spread: 0.25, dtype: ScalarType.Float64);
        var sums = fb.sum(new long[] { 0 });
        Assert.IsLessThan(Tolerances.Float64IdentityAbs, sums.sub(ones_like(sums)).abs().max().item<double>(), "L1 normalisation");
        var peaks = fb.argmax(0);
        double binHz = 8000.0 / 1024;
        for (int k = 0; k < 60; k += 12)
        {
            double centre = 100 * Math.Pow(2, k / 12.0);
            Assert.AreEqual(centre, peaks[k].item<long>() * binHz, 2 * binHz, $"filter {k} peaks away from {centre} Hz");
        }
    }

    [TestMethod]
    [DataRow(new long[] { 257, 40 }, new long[] { 84, 40 })]
    [DataRow(new long[] { 3, 257, 40 }, new long[] { 3, 84, 40 })]
    [DataRow(new long[] { 3, 2, 257, 40 }, new long[] { 3, 2, 84, 40 })]
    public void ApplyFilterbank_WithLogFilters_MapsBinsToLogBins(long[] input, long[] expected)
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.LogFrequencyFilterbank(16000, n_fft: 512);
        Assert.AreEqual(257, layer.n_freqs);
        Assert.AreEqual(84, layer.n_filters);
        var y = layer.call(rand(input, generator: new Generator(seed: 1)));
        Compare.Shape(y, expected, "log-frequency spectrogram");
    }

    [TestMethod]
    public void TrainableLogFilterbank_ReceivesGradient()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.LogFrequencyFilterbank(16000, n_fft: 256, n_bins: 48, trainable: true);
        layer.call(rand(2, 129, 10, generator: new Generator(seed: 2))).sum().backward();
        Assert.IsNotNull(layer.Filterbank.grad);
        Assert.IsGreaterThan(0.0, layer.Filterbank.grad.abs().sum().item<float>());
    }

    [TestMethod]
    public void RejectsTopCentreAboveNyquist()
    {
        // C1 · 2^(96 / 12) = 8372 Hz > 8000 Hz.
        var e = Assert.Throws<ArgumentException>(() => Functional.log_frequency_fbanks(16000, 257, n_bins: 96));
        Assert.AreEqual("n_bins", e.ParamName);
        StringAssert.Contains(e.Message, "Nyquist");
    }

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(double.NaN)]
    public void RejectsNonPositiveSpread(double spread)
    {
        var e = Assert.Throws<ArgumentException>(() => Functional.log_frequency_fbanks(16000, 257, spread: spread));
        Assert.AreEqual("spread", e.ParamName);
    }

    [TestMethod]
    public void RejectsZeroBinsPerOctave()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.LogFrequencyFilterbank(16000, bins_per_octave: 0));
        Assert.AreEqual("bins_per_octave", e.ParamName);
    }

    [TestMethod]
    public void RejectsNegativeMinFrequency()
    {
        var e = Assert.Throws<ArgumentException>(() => Functional.log_frequency_fbanks(16000, 257, f_min: -5));
        Assert.AreEqual("f_min", e.ParamName);
    }
}
