using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class FrameEnergyMuLawTests
{
    /// <summary>Framing copies samples: the frames must equal the reference bit for bit.</summary>
    private const double FrameAbs = 0;

    /// <summary>float32 sums of up to 2205 squares against float64, relative to the largest energy (measured: below 1e-6).</summary>
    private const double EnergyRel = 1e-5;

    /// <summary>The reference codes come from torchaudio on the same float32 input with float32 arithmetic, and the encoder
    /// runs the same operations in the same order: codes must be equal.</summary>
    private const double MuLawCodeAbs = 0;

    /// <summary>Decoding in float32 against float64: a few float32 ulps of values at most 1 (measured: 2.4e-7).</summary>
    private const double MuLawDecodeAbs = 1e-6;

    public static IEnumerable<object[]> FrameCases => InverseFramingWindowsFixtures.CaseNames("frame");
    public static IEnumerable<object[]> EnergyCases => InverseFramingWindowsFixtures.CaseNames("energy");
    public static IEnumerable<object[]> EncodeCases => InverseFramingWindowsFixtures.CaseNames("mulaw_encode");
    public static IEnumerable<object[]> DecodeCases => InverseFramingWindowsFixtures.CaseNames("mulaw_decode");

    [TestMethod]
    [DynamicData(nameof(FrameCases))]
    public void Frame_MatchesTfSignalFrame(string name)
    {
        var c = InverseFramingWindowsFixtures.Case(name);
        var (signal, _) = ReferenceFixtures.Signal(c.String("signal")!);
        var expected = InverseFramingWindowsFixtures.Data(c);
        using var scope = NewDisposeScope();
        using var frame = AudioLayers.Frame(c.Long("frame_length"), c.Long("hop_length"), c.Bool("pad_end"), c.Double("pad_value"));
        Compare.Absolute(frame.call(tensor(signal.Data)), expected, FrameAbs, name);
    }

    [TestMethod]
    [DataRow(false, 1L + (1001L - 256L) / 100L)]
    [DataRow(true, (1001L + 99L) / 100L)]
    public void Frame_KeepsBatchAndChannelDimensions(bool padEnd, long frames)
    {
        using var scope = NewDisposeScope();
        using var frame = AudioLayers.Frame(256, 100, pad_end: padEnd);
        var batch = randn(new long[] { 2, 3, 1001 }, generator: new Generator(seed: 2));
        var y = frame.call(batch);
        Compare.Shape(y, [2, 3, frames, 256], "(batch, channels, time)");
        Compare.Shape(frame.call(batch[0, 0]), [frames, 256], "(time)");
        CollectionAssert.AreEqual(Compare.ToArray(batch[1, 2].narrow(0, 300, 256)), Compare.ToArray(y[1, 2, 3]), "frame 3 of [1, 2]");
    }

    [TestMethod]
    public void Frame_GivesNoFrames_WhenSignalIsShorterThanAFrame_WithoutPadEnd()
    {
        using var scope = NewDisposeScope();
        Compare.Shape(AudioLayers.Frame(256, 100).call(zeros(2, 200)), [2, 0, 256], "short signal");
        Compare.Shape(AudioLayers.Frame(256, 100, pad_end: true).call(zeros(2, 200)), [2, 2, 256], "short signal, pad_end");
    }

    [TestMethod]
    [DynamicData(nameof(EnergyCases))]
    public void Energy_MatchesKapreFormula(string name)
    {
        var c = InverseFramingWindowsFixtures.Case(name);
        var (signal, _) = ReferenceFixtures.Signal(c.String("signal")!);
        var expected = InverseFramingWindowsFixtures.Data(c);
        using var scope = NewDisposeScope();
        using var energy = AudioLayers.Energy(c.Double("sample_rate"), c.Double("ref_duration"), c.Long("frame_length"), c.Long("hop_length"), c.Bool("pad_end"));
        Compare.RelativeToMax(energy.call(tensor(signal.Data)), expected, EnergyRel, name);
    }

    [TestMethod]
    public void Energy_KeepsBatchAndChannelDimensions_AndPassesGradient()
    {
        using var scope = NewDisposeScope();
        using var energy = AudioLayers.Energy(16000, 0.1, 400, 160);
        var batch = randn(new long[] { 2, 3, 4000 }, generator: new Generator(seed: 3)).requires_grad_();
        var y = energy.call(batch);
        Compare.Shape(y, [2, 3, 1 + (4000 - 400) / 160], "(batch, channels, time)");
        // A constant signal of 1: each frame sums 400 ones, scaled by 0.1 s / (400 / 16000 s) = 4.
        Assert.AreEqual(1600f, energy.call(ones(4000))[0].item<float>(), 1e-3f);
        y.sum().backward();
        Assert.IsGreaterThan(0.0, batch.grad!.abs().sum().item<float>(), "no gradient reached the signal");
    }

    [TestMethod]
    [DynamicData(nameof(EncodeCases))]
    public void MuLawEncoding_MatchesTorchaudio(string name)
    {
        var c = InverseFramingWindowsFixtures.Case(name);
        var input = InverseFramingWindowsFixtures.Data(c, "input");
        var expected = InverseFramingWindowsFixtures.Data(c);
        using var scope = NewDisposeScope();
        using var encode = AudioLayers.MuLawEncoding(c.Long("quantization_channels"));
        var codes = encode.call(tensor(input.Data));
        Assert.AreEqual(ScalarType.Int64, codes.dtype);
        Compare.Absolute(codes, expected, MuLawCodeAbs, name);
    }

    [TestMethod]
    [DynamicData(nameof(DecodeCases))]
    public void MuLawDecoding_MatchesTorchaudio(string name)
    {
        var c = InverseFramingWindowsFixtures.Case(name);
        var expected = InverseFramingWindowsFixtures.Data(c);
        long q = c.Long("quantization_channels");
        using var scope = NewDisposeScope();
        using var decode = AudioLayers.MuLawDecoding(q);
        using var stop = q.ToScalar();
        using var zero = 0.ToScalar();
        var x = decode.call(arange(zero, stop, HeldScalars.One, ScalarType.Int64));
        Assert.AreEqual(ScalarType.Float32, x.dtype, "integer codes decode to float32");
        Compare.Absolute(x, expected, MuLawDecodeAbs, name);
    }

    [TestMethod]
    public void MuLaw_RoundTrip_KeepsShape_AndErrorWithinHalfAStep()
    {
        using var scope = NewDisposeScope();
        using var scale = 1.8.ToScalar();
        using var offset = 0.9.ToScalar();
        var x = rand(new long[] { 2, 3, 1000 }, generator: new Generator(seed: 4)).mul(scale).sub(offset);
        var codes = AudioLayers.MuLawEncoding().call(x);
        Compare.Shape(codes, [2, 3, 1000], "codes");
        var y = AudioLayers.MuLawDecoding().call(codes);
        Compare.Shape(y, [2, 3, 1000], "decoded");
        // The largest step of the 8-bit curve is at full scale: (256^(2/255) − 1) · 256 / 255 / 2 ≈ 0.022 of the range.
        Assert.IsLessThan(0.025, (y - x).abs().max().item<float>(), "round trip error");
    }

    private static void AssertNames(string expectedParam, Action act)
    {
        var ex = Assert.Throws<ArgumentException>(act);
        Assert.AreEqual(expectedParam, ex.ParamName, ex.Message);
        StringAssert.Contains(ex.Message, expectedParam);
    }

    [TestMethod]
    public void Frame_Throws_NamingTheArgument()
    {
        AssertNames("frame_length", () => AudioLayers.Frame(0, 100));
        AssertNames("hop_length", () => AudioLayers.Frame(256, 0));
        AssertNames("pad_value", () => AudioLayers.Frame(256, 100, pad_value: double.NaN));
        AssertNames("input", () => AudioLayers.Frame(256, 100).call(tensor(1f)));
    }

    [TestMethod]
    public void Energy_Throws_NamingTheArgument()
    {
        AssertNames("sample_rate", () => AudioLayers.Energy(sample_rate: 0));
        AssertNames("ref_duration", () => AudioLayers.Energy(ref_duration: -0.1));
        AssertNames("frame_length", () => AudioLayers.Energy(frame_length: 0));
    }

    [TestMethod]
    public void MuLaw_Throws_NamingTheArgument()
    {
        AssertNames("quantization_channels", () => AudioLayers.MuLawEncoding(1));
        AssertNames("quantization_channels", () => AudioLayers.MuLawDecoding(0));
        AssertNames("x", () => AudioLayers.MuLawEncoding().call(zeros(10, ScalarType.Int32)));
    }
}
