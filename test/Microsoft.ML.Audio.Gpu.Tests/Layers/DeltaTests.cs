using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class DeltaTests
{
    /// <summary>float32 convolution of at most 9 terms against float64, relative to the largest delta (measured: below 1e-6).</summary>
    private const double DeltaRel = 1e-5;

    public static IEnumerable<object[]> Cases => InverseFramingWindowsFixtures.CaseNames("delta");

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void Forward_MatchesReference(string name)
    {
        var c = InverseFramingWindowsFixtures.Case(name);
        var input = InverseFramingWindowsFixtures.Data(c, "input");
        var mode = c.String("mode") == "symmetric" ? DeltaPadding.Symmetric : DeltaPadding.Replicate;
        using var scope = NewDisposeScope();
        using var delta = AudioLayers.Delta(c.Long("win_length"), mode);
        var y = delta.call(tensor(input.Data).reshape(input.Shape)); // (2, 3, 20, 37): batch, channels, freq, time
        Compare.RelativeToMax(y, InverseFramingWindowsFixtures.Data(c), DeltaRel, name);
    }

    [TestMethod]
    [DataRow(DeltaPadding.Replicate)]
    [DataRow(DeltaPadding.Symmetric)]
    public void Forward_KeepsShape_AndGivesTheSlopeOfARamp(DeltaPadding mode)
    {
        using var scope = NewDisposeScope();
        using var delta = AudioLayers.Delta(5, mode);
        using var start = 0.ToScalar();
        using var stop = 50.ToScalar();
        using var half = 0.5.ToScalar();
        var ramp = arange(start, stop, HeldScalars.One, ScalarType.Float32).mul(half); // slope 0.5 per frame
        foreach (long[] shape in new[] { new long[] { 50 }, new long[] { 4, 50 }, new long[] { 2, 3, 4, 50 } })
        {
            var y = delta.call(ramp.expand(shape).contiguous());
            Compare.Shape(y, shape, $"{mode} {string.Join("x", shape)}");
        }
        var d = Compare.ToArray(delta.call(ramp));
        for (int t = 2; t < 48; t++) Assert.AreEqual(0.5f, d[t], 1e-5f, $"{mode}: delta at {t}");
        Assert.AreEqual(0f, delta.call(ones(3, 30)).abs().max().item<float>(), "a constant has no slope");
    }

    [TestMethod]
    public void Forward_PassesGradient_AndHasNoParameters()
    {
        using var scope = NewDisposeScope();
        using var delta = AudioLayers.Delta();
        Assert.AreEqual(0, delta.parameters().Count());
        var x = randn(new long[] { 2, 8, 30 }, generator: new Generator(seed: 1)).requires_grad_();
        delta.call(x).pow(HeldScalars.Two).sum().backward();
        Assert.IsGreaterThan(0.0, x.grad!.abs().sum().item<float>(), "no gradient reached the input");
    }

    private static void AssertNames(string expectedParam, Action act)
    {
        var ex = Assert.Throws<ArgumentException>(act);
        Assert.AreEqual(expectedParam, ex.ParamName, ex.Message);
        StringAssert.Contains(ex.Message, expectedParam);
    }

    [TestMethod]
    [DataRow(1L)]
    [DataRow(4L)]
    public void Constructor_Throws_NamingWindowLength_WhenEvenOrBelowThree(long winLength)
        => AssertNames("win_length", () => AudioLayers.Delta(winLength));

    [TestMethod]
    public void Constructor_Throws_NamingMode_WhenUndefined() => AssertNames("mode", () => AudioLayers.Delta(5, (DeltaPadding)7));

    [TestMethod]
    public void Forward_Throws_NamingSpecgram_WhenTooShortForSymmetricPadding()
        => AssertNames("specgram", () => AudioLayers.Delta(9, DeltaPadding.Symmetric).call(zeros(3, 3)));
}
