using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class Normalization2DTests
{
    /// <summary>float32 mean and deviation over at most 1,920 values against float64, relative to the largest output
    /// (about 4): a few float32 ulps. Measured: 1.5e-7 at most.</summary>
    private const double NormalizationRel = 1e-5;

    public static IEnumerable<object[]> Cases => CepstraFilterbanksNormsFixtures.CaseNames("norm2d");

    private static NormalizationAxis Axis(string kapreName) => kapreName switch
    {
        "batch" => NormalizationAxis.Batch,
        "data_sample" => NormalizationAxis.Example,
        "channel" => NormalizationAxis.Channel,
        "freq" => NormalizationAxis.Frequency,
        "time" => NormalizationAxis.Time,
        _ => throw new InvalidDataException(kapreName),
    };

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void Forward_MatchesKapreNormalization2D(string name)
    {
        var c = CepstraFilterbanksNormsFixtures.Case(name);
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.Normalization2D(Axis(c.String("axis")!), c.Double("eps"));
        var x = CepstraFilterbanksNormsFixtures.Tensor(CepstraFilterbanksNormsFixtures.Data(c, "input"));
        Compare.RelativeToMax(layer.call(x), CepstraFilterbanksNormsFixtures.Data(c, "expected"), NormalizationRel, name);
    }

    [TestMethod]
    public void Example_GivesEachExampleZeroMeanAndUnitDeviation_ForMonoBatchedAndMultiChannelInput()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.Normalization2D(NormalizationAxis.Example, eps: 0);
        using var three = 3.0.ToScalar();
        using var five = 5.0.ToScalar();
        using var one = 1.0.ToScalar();
        foreach (var shape in new long[][] { [40, 30], [4, 40, 30], [4, 2, 40, 30] })
        {
            var x = randn(shape, dtype: ScalarType.Float64, generator: new Generator(seed: 9)).mul(three).add(five, HeldScalars.One);
            var y = layer.call(x);
            Compare.Shape(y, shape, "normalised");
            var perExample = shape.Length == 2 ? y.reshape(1, -1) : y.reshape(shape[0], -1);
            Assert.IsLessThan(Tolerances.Float64IdentityAbs, perExample.mean([1]).abs().max().item<double>(), $"{shape.Length}-D: mean");
            Assert.IsLessThan(Tolerances.Float64IdentityAbs, perExample.std(1, unbiased: false).sub(one).abs().max().item<double>(), $"{shape.Length}-D: deviation");
        }
    }

    [TestMethod]
    public void Forward_OfConstantInput_IsZero_ThanksToEps()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.Normalization2D(NormalizationAxis.Frequency);
        var y = layer.call(ones(2, 1, 8, 5));
        Assert.AreEqual(0.0, y.abs().max().item<float>());
    }

    [TestMethod]
    public void RejectsUndefinedAxis()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.Normalization2D((NormalizationAxis)9));
        Assert.AreEqual("axis", e.ParamName);
    }

    [TestMethod]
    public void RejectsNegativeEps()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.Normalization2D(eps: -1e-3));
        Assert.AreEqual("eps", e.ParamName);
    }

    [TestMethod]
    public void RejectsOneDimensionalInput()
    {
        using var layer = AudioLayers.Normalization2D();
        var e = Assert.Throws<ArgumentException>(() => layer.call(zeros(10)));
        Assert.AreEqual("input", e.ParamName);
    }
}
