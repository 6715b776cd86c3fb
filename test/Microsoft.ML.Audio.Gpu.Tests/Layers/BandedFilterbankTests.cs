using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>
/// The banded filterbank product (CPU, enough frames): groups of filters multiply only the bins where they are non-zero.
/// Each test compares with the dense product in float64, so a wrong band or offset fails it.
/// </summary>
[TestClass]
public sealed class BandedFilterbankTests
{
    /// <summary>Spectrum columns well above <see cref="Functional.MinBandedColumns"/>: the banded path is taken.</summary>
    private static Tensor Spectrum(long bins, long batch = 3, long frames = 400, int seed = 5)
        => rand(new long[] { batch, bins, frames }, generator: new Generator(seed: (ulong)seed));

    private static void AssertEqualsDense(Tensor fb, Tensor spectrum, string what)
    {
        var actual = Functional.apply_filterbank(spectrum, fb);
        var expected = einsum("fm,bft->bmt", fb.to(ScalarType.Float64), spectrum.to(ScalarType.Float64)).to(ScalarType.Float32);
        Compare.Shape(actual, expected.shape, what);
        Compare.RelativeToMax(Compare.ToArray(actual), Compare.ToArray(expected), Tolerances.StftRel, what);
    }

    public static IEnumerable<object[]> MelCases =>
    [
        [16000.0, 512L, 64L, MelScale.Htk, MelNorm.None],
        [22050.0, 2048L, 128L, MelScale.Htk, MelNorm.None],
        [16000.0, 1024L, 128L, MelScale.Slaney, MelNorm.Slaney],
        [8000.0, 256L, 40L, MelScale.Htk, MelNorm.None],
        [16000.0, 400L, 23L, MelScale.Htk, MelNorm.None], // a last group of 7 filters
    ];

    [TestMethod]
    [DynamicData(nameof(MelCases))]
    public void MelFilterbank_HasBandsThatCoverEveryNonZeroWeight_AndOverlapLittle(double rate, long nFft, long nMels, MelScale scale, MelNorm norm)
    {
        using var scope = NewDisposeScope();
        var fb = Functional.melscale_fbanks(nFft / 2 + 1, 0, null, nMels, rate, norm, scale);
        var bands = Functional.filterbank_bands(fb);
        Assert.IsNotNull(bands, "a mel filterbank must be banded");
        Assert.AreEqual((nMels + Functional.FiltersPerBand - 1) / Functional.FiltersPerBand, bands.Length);
        var w = fb.data<float>().ToArray();
        long bins = nFft / 2 + 1, work = 0;
        foreach (var b in bands)
        {
            work += b.BinCount * b.FilterCount;
            for (long m = b.FirstFilter; m < b.FirstFilter + b.FilterCount; m++)
                for (long k = 0; k < bins; k++)
                    if (w[k * nMels + m] != 0)
                        Assert.IsTrue(k >= b.FirstBin && k < b.FirstBin + b.BinCount, $"filter {m} is non-zero at bin {k}, outside its band [{b.FirstBin}, {b.FirstBin + b.BinCount})");
        }
        // Groups split the bins between them, overlapping by about one filter's width at each boundary.
        Assert.IsLessThanOrEqualTo(Functional.FiltersPerBand * bins * 3 / 2, work, $"banded work {work} of dense {bins * nMels}");
    }

    [TestMethod]
    public void MelFilterbank_FewWideFilters_HasNoBands()
    {
        // 6 mels over 513 bins: one group that spans every bin saves nothing over the dense product.
        using var scope = NewDisposeScope();
        Assert.IsNull(Functional.filterbank_bands(Functional.melscale_fbanks(513, 0, null, 6, 16000)));
    }

    [TestMethod]
    [DynamicData(nameof(MelCases))]
    public void ApplyFilterbank_Banded_EqualsDenseProduct(double rate, long nFft, long nMels, MelScale scale, MelNorm norm)
    {
        using var scope = NewDisposeScope();
        var fb = Functional.melscale_fbanks(nFft / 2 + 1, 0, null, nMels, rate, norm, scale);
        AssertEqualsDense(fb, Spectrum(nFft / 2 + 1), $"mel {rate}/{nFft}/{nMels}");
    }

    [TestMethod]
    public void ApplyFilterbank_LogFrequencyFilterbank_EqualsDenseProduct()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.LogFrequencyFilterbank(22050, n_fft: 2048);
        AssertEqualsDense(layer.Filterbank, Spectrum(1025), "log-frequency");
    }

    [TestMethod]
    public void ApplyFilterbank_TakesTheBandedPath_OnTheCpuWithEnoughFrames()
    {
        // Observable difference: the banded product never reads bins outside a group's band, so a NaN in the last bin
        // reaches only the filters whose band holds it (the dense product spreads NaN·0 = NaN to every filter).
        using var scope = NewDisposeScope();
        var fb = Functional.melscale_fbanks(257, 0, null, 64, 16000);
        var spectrum = Spectrum(257);
        spectrum[TensorIndex.Colon, TensorIndex.Single(256), TensorIndex.Colon] = tensor(float.NaN);
        var y = Functional.apply_filterbank(spectrum, fb);
        Assert.IsFalse(y[TensorIndex.Colon, TensorIndex.Slice(0, 8)].isnan().any().item<bool>(), "the first group read the last bin: dense path taken");
        Assert.IsTrue(y[TensorIndex.Colon, TensorIndex.Single(63)].isnan().all().item<bool>());
    }

    [TestMethod]
    public void ApplyFilterbank_FewFrames_UsesTheDenseProduct()
    {
        using var scope = NewDisposeScope();
        var fb = Functional.melscale_fbanks(129, 0, null, 40, 8000);
        var spectrum = Spectrum(129, batch: 1, frames: 28);
        spectrum[TensorIndex.Colon, TensorIndex.Single(128), TensorIndex.Colon] = tensor(float.NaN);
        Assert.IsTrue(Functional.apply_filterbank(spectrum, fb).isnan().all().item<bool>());
    }

    [TestMethod]
    public void ApplyFilterbank_DenseFilterbank_HasNoBands_AndStaysCorrect()
    {
        using var scope = NewDisposeScope();
        var fb = rand(new long[] { 257, 32 }, generator: new Generator(seed: 3));
        Assert.IsNull(Functional.filterbank_bands(fb));
        AssertEqualsDense(fb, Spectrum(257), "dense random filterbank");
    }

    [TestMethod]
    public void ApplyFilterbank_SparseIrregularFilterbank_EqualsDenseProduct()
    {
        // Filters with gaps inside their span, an all-zero group, -0.0 entries and a filter of one bin.
        using var scope = NewDisposeScope();
        var w = new float[513 * 40];
        var rng = new Random(9);
        for (int m = 0; m < 40; m++)
        {
            if (m is >= 16 and < 24) continue; // the third group is all zero
            int start = m * 12, width = m == 39 ? 1 : 20;
            for (int k = start; k < start + width; k++)
                w[k * 40 + m] = k % 3 == 0 ? 0f : (float)rng.NextDouble();
        }
        w[500 * 40 + 0] = -0f;
        var fb = tensor(w).reshape(513, 40);
        var bands = Functional.filterbank_bands(fb);
        Assert.IsNotNull(bands);
        Assert.AreEqual(0L, bands[2].BinCount, "the all-zero group reads no bins");
        Assert.AreEqual(500L, bands[0].FirstBin + bands[0].BinCount - 1, "-0.0 counts as non-zero, so the band reaches it");
        AssertEqualsDense(fb, Spectrum(513), "irregular filterbank");
    }

    [TestMethod]
    public void MelFilterbank_ChangedInPlace_IsAppliedWithItsNewValues()
    {
        // Spans are read at every call: a filterbank loaded or edited in place is never applied with stale bands.
        using var scope = NewDisposeScope();
        using var mel = AudioLayers.MelFilterbank(16000, 512, 64);
        var spectrum = Spectrum(257);
        using (no_grad())
        {
            _ = mel.call(spectrum);
            mel.Filterbank.copy_(rand(new long[] { 257, 64 }, generator: new Generator(seed: 4)));
        }
        var y = mel.call(spectrum);
        var expected = einsum("fm,bft->bmt", mel.Filterbank.to(ScalarType.Float64), spectrum.to(ScalarType.Float64)).to(ScalarType.Float32);
        Compare.RelativeToMax(Compare.ToArray(y), Compare.ToArray(expected), Tolerances.StftRel, "filterbank replaced in place");
    }

    [TestMethod]
    public void TrainableMelFilterbank_GetsGradientsOutsideTheBands()
    {
        // With autograd recording, a trainable filterbank takes the dense product: every weight gets its gradient,
        // including those that are zero now (a banded product would leave them at zero forever).
        using var scope = NewDisposeScope();
        using var mel = AudioLayers.MelFilterbank(16000, 512, 64, trainable: true);
        mel.call(Spectrum(257)).sum().backward();
        var grad = mel.Filterbank.grad!;
        Assert.AreNotEqual(0f, grad[256, 0].item<float>(), "filter 0 got no gradient at bin 256, outside its band");
    }

    [TestMethod]
    public void ApplyFilterbank_Float64_EqualsDenseProduct()
    {
        using var scope = NewDisposeScope();
        var fb = Functional.melscale_fbanks(513, 0, null, 128, 16000, dtype: ScalarType.Float64);
        var spectrum = Spectrum(513).to(ScalarType.Float64);
        Assert.IsNotNull(Functional.filterbank_bands(fb));
        var actual = Functional.apply_filterbank(spectrum, fb);
        var expected = einsum("fm,bft->bmt", fb, spectrum);
        Assert.IsLessThanOrEqualTo(Tolerances.Float64IdentityAbs, (actual - expected).abs().max().item<double>() / expected.abs().max().item<double>());
    }
}
