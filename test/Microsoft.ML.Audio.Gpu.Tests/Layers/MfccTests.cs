using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class MfccTests
{
    /// <summary>DCT built in float64 and stored in float32: rounding alone (6e-8 of the largest entry).</summary>
    private const double DctRel = 1e-6;

    /// <summary>MFCC from a float32 STFT, mel and log against float64 torchaudio, relative to the largest coefficient.
    /// The dB step magnifies the float32 error of the quietest kept bins (up to 80 dB below the peak); the DCT
    /// averages it. Measured: 2.3e-6 (mono) and 4.4e-7 (4-D).</summary>
    private const double MfccRel = 1e-4;

    public static IEnumerable<object[]> DctCases => CepstraFilterbanksNormsFixtures.CaseNames("dct");
    public static IEnumerable<object[]> MfccCases => CepstraFilterbanksNormsFixtures.CaseNames("mfcc");

    internal static MelSpectrogram LogMel(System.Text.Json.JsonElement c)
        => AudioLayers.MelSpectrogram(c.Double("sample_rate"), c.Long("n_fft"), c.Long("win_length"), c.Long("hop_length"),
            WindowType.Hann, FramePadding.Center, ReferenceFixtures.PadMode(c.String("pad_mode")), power: 2.0, n_mels: c.Long("n_mels"),
            f_min: c.Double("f_min"), f_max: c.Double("f_max"), to_db: true, db_amin: c.Double("amin"), top_db: c.Double("top_db"));

    [TestMethod]
    [DynamicData(nameof(DctCases))]
    public void CreateDct_MatchesTorchaudio(string name)
    {
        var c = CepstraFilterbanksNormsFixtures.Case(name);
        var norm = c.String("norm") == "ortho" ? DctNorm.Ortho : DctNorm.None;
        using var dct = Functional.create_dct(c.Long("n_mfcc"), c.Long("n_mels"), norm);
        Compare.RelativeToMax(dct, CepstraFilterbanksNormsFixtures.Data(c, "expected"), DctRel, name);
    }

    [TestMethod]
    public void CreateDct_Ortho_IsOrthonormal_WhenSquare()
    {
        using var scope = NewDisposeScope();
        var d = Functional.create_dct(32, 32, DctNorm.Ortho, ScalarType.Float64);
        var gram = matmul(d.t(), d);
        var error = gram.sub(eye(32, dtype: ScalarType.Float64)).abs().max().item<double>();
        Assert.IsLessThan(Tolerances.Float64IdentityAbs, error, "DᵀD differs from the identity");
    }

    [TestMethod]
    [DynamicData(nameof(MfccCases))]
    public void Forward_MatchesTorchaudioMfcc_ForMonoSignal(string name)
    {
        var c = CepstraFilterbanksNormsFixtures.Case(name);
        var (signal, rate) = ReferenceFixtures.Signal(c.String("signal")!);
        Assert.AreEqual(rate, c.Double("sample_rate"));
        using var scope = NewDisposeScope();
        using var logmel = LogMel(c);
        using var mfcc = AudioLayers.Mfcc(c.Long("n_mfcc"), c.Long("n_mels"));
        Compare.RelativeToMax(mfcc.call(logmel.call(tensor(signal.Data))), CepstraFilterbanksNormsFixtures.Data(c, "expected"), MfccRel, name);
    }

    [TestMethod]
    public void Forward_MatchesTorchaudioMfcc_ForBatchOfMultiChannelSignals()
    {
        // (batch 2, channels 2, time): torchaudio takes the 80 dB floor per batch entry over both channels, as our layers do.
        var c = CepstraFilterbanksNormsFixtures.Cases("mfcc4d").Single();
        using var scope = NewDisposeScope();
        using var logmel = LogMel(c);
        using var mfcc = AudioLayers.Mfcc(c.Long("n_mfcc"), c.Long("n_mels"));
        var x = CepstraFilterbanksNormsFixtures.Tensor(CepstraFilterbanksNormsFixtures.Data(c, "input"));
        Compare.RelativeToMax(mfcc.call(logmel.call(x)), CepstraFilterbanksNormsFixtures.Data(c, "expected"), MfccRel, c.String("name")!);
    }

    [TestMethod]
    [DataRow(new long[] { 64, 30 }, new long[] { 13, 30 })]
    [DataRow(new long[] { 5, 64, 30 }, new long[] { 5, 13, 30 })]
    [DataRow(new long[] { 5, 2, 64, 30 }, new long[] { 5, 2, 13, 30 })]
    public void Forward_KeepsLeadingDimensions(long[] input, long[] expected)
    {
        using var scope = NewDisposeScope();
        using var mfcc = AudioLayers.Mfcc(13, 64);
        var x = randn(input, generator: new Generator(seed: 3));
        var y = mfcc.call(x);
        Compare.Shape(y, expected, "mfcc");
        // Every example goes through the same matrix: the first example alone gives the same values.
        var first = input.Length == 2 ? y : y[0];
        var alone = mfcc.call(input.Length == 2 ? x : x[0]);
        CollectionAssert.AreEqual(Compare.ToArray(alone), Compare.ToArray(first));
    }

    [TestMethod]
    public void Forward_OfConstantLogMel_HasOnlyTheFirstCoefficient()
    {
        // The DC basis vector of an orthonormal DCT is 1/sqrt(N): a flat spectrum of value v gives c0 = v·sqrt(N), the rest 0.
        using var scope = NewDisposeScope();
        using var mfcc = AudioLayers.Mfcc(8, 16, dtype: ScalarType.Float64);
        using var value = (-20.0).ToScalar();
        var y = mfcc.call(full(new long[] { 16, 3 }, value, dtype: ScalarType.Float64));
        Assert.AreEqual(-20.0 * 4.0, y[0, 0].item<double>(), Tolerances.Float64IdentityAbs);
        Assert.IsLessThan(Tolerances.Float64IdentityAbs, y.narrow(0, 1, 7).abs().max().item<double>());
    }

    [TestMethod]
    public void Module_MovesItsBuffer_AndHasNoParameters()
    {
        using var mfcc = AudioLayers.Mfcc(13, 40);
        Assert.AreEqual(0, mfcc.parameters().Count());
        Assert.AreEqual(1, mfcc.buffers().Count(), "the DCT matrix is a buffer");
        mfcc.to(ScalarType.Float64);
        Assert.AreEqual(ScalarType.Float64, mfcc.Dct.dtype, "Module.to() updated the DCT field");
    }

    [TestMethod]
    public void Mfcc_RejectsMoreCoefficientsThanMels()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.Mfcc(n_mfcc: 41, n_mels: 40));
        Assert.AreEqual("n_mfcc", e.ParamName);
    }

    [TestMethod]
    public void Mfcc_RejectsZeroMels()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.Mfcc(n_mfcc: 1, n_mels: 0));
        Assert.AreEqual("n_mels", e.ParamName);
    }

    [TestMethod]
    public void Forward_RejectsInputWithOtherMelCount()
    {
        using var mfcc = AudioLayers.Mfcc(13, 40);
        var e = Assert.Throws<ArgumentException>(() => mfcc.call(zeros(2, 64, 10)));
        Assert.AreEqual("input", e.ParamName);
    }
}
