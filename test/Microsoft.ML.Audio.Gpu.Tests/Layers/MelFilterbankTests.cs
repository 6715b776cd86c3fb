using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class MelFilterbankTests
{
    public static IEnumerable<object[]> FilterbankCases => ReferenceFixtures.CaseNames("melfb");

    [TestMethod]
    [DynamicData(nameof(FilterbankCases))]
    public void MelscaleFbanks_MatchesTorchaudio(string name)
    {
        var c = ReferenceFixtures.Case(name);
        var expected = ReferenceFixtures.Data(c.String("expected")!);
        using var fb = Functional.melscale_fbanks(c.Long("n_freqs"), c.Double("f_min"), c.Double("f_max"), c.Long("n_mels"),
            c.Double("sample_rate"), ReferenceFixtures.MelNorm(c.String("norm")), ReferenceFixtures.MelScale(c.String("mel_scale")));
        Compare.RelativeToMax(fb, expected, Tolerances.FilterbankRel, name);
    }

    [TestMethod]
    [DynamicData(nameof(FilterbankCases))]
    public void Layer_AppliesItsFilterbankAlongFrequency(string name)
    {
        var c = ReferenceFixtures.Case(name);
        var expected = ReferenceFixtures.Data(c.String("expected")!);
        using var scope = NewDisposeScope();
        using var mel = AudioLayers.MelFilterbank(c.Double("sample_rate"), c.Long("n_fft"), c.Long("n_mels"), c.Double("f_min"),
            c.Double("f_max"), ReferenceFixtures.MelScale(c.String("mel_scale")), ReferenceFixtures.MelNorm(c.String("norm")));
        long nFreqs = c.Long("n_freqs"), nMels = c.Long("n_mels");
        var spectrum = rand(new long[] { 2, nFreqs, 5 }, generator: new Generator(seed: 11));

        var y = mel.call(spectrum);
        Compare.Shape(y, [2, nMels, 5], name);
        // Reference: the same contraction done by hand with the torchaudio filterbank, in float64.
        var fb = tensor(expected.Data).reshape(nFreqs, nMels).to(ScalarType.Float64);
        var reference = einsum("fm,bft->bmt", fb, spectrum.to(ScalarType.Float64)).to(ScalarType.Float32);
        Compare.RelativeToMax(Compare.ToArray(y), Compare.ToArray(reference), Tolerances.StftRel, name);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Layer_MovesWithModuleTo_Float64(bool trainable)
    {
        using var scope = NewDisposeScope();
        using var mel = AudioLayers.MelFilterbank(16000, n_fft: 256, n_mels: 10, trainable: trainable);
        mel.to(ScalarType.Float64);
        Assert.AreEqual(ScalarType.Float64, mel.Filterbank.dtype);
        Assert.AreEqual(trainable, mel.Filterbank.requires_grad);
        Assert.AreEqual(ScalarType.Float64, mel.call(rand(129, 3, dtype: ScalarType.Float64)).dtype);
    }

    [TestMethod]
    [DataRow(0.0, MelScale.Htk)]
    [DataRow(440.0, MelScale.Htk)]
    [DataRow(999.0, MelScale.Slaney)]
    [DataRow(1000.0, MelScale.Slaney)]
    [DataRow(7777.0, MelScale.Slaney)]
    [DataRow(22050.0, MelScale.Htk)]
    public void HzToMel_RoundTrips(double hz, MelScale scale)
        => Assert.AreEqual(hz, Functional.mel_to_hz(Functional.hz_to_mel(hz, scale), scale), 1e-9 * Math.Max(1, hz));

    [TestMethod]
    public void HzToMel_MatchesPublishedValues()
    {
        // HTK: 2595 log10(1 + 1000/700) = 999.9855...; Slaney: 1 kHz is mel 15 and 6.4 kHz is mel 42 by construction.
        Assert.AreEqual(999.98554, Functional.hz_to_mel(1000, MelScale.Htk), 1e-4);
        Assert.AreEqual(15.0, Functional.hz_to_mel(1000, MelScale.Slaney), Tolerances.Float64IdentityAbs);
        Assert.AreEqual(42.0, Functional.hz_to_mel(6400, MelScale.Slaney), Tolerances.Float64IdentityAbs);
    }
}
