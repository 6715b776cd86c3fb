using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class FrequencyAwareConv2dTests
{
    /// <summary>float32 convolution of at most 27 products against float64, relative to the largest output. Measured: 1.3e-7 at most.</summary>
    private const double ConvRel = 1e-5;

    public static IEnumerable<object[]> Cases => CepstraFilterbanksNormsFixtures.CaseNames("freqconv");

    private static void LoadWeights(FrequencyAwareConv2d layer, NpyArray weight, NpyArray bias)
    {
        using var _ = no_grad();
        using var w = CepstraFilterbanksNormsFixtures.Tensor(weight);
        using var b = CepstraFilterbanksNormsFixtures.Tensor(bias);
        layer.conv.weight!.copy_(w);
        layer.conv.bias!.copy_(b);
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void Forward_MatchesTorchConv2dOverInputAndFrequencyMap(string name)
    {
        var c = CepstraFilterbanksNormsFixtures.Case(name);
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.FrequencyAwareConv2d(c.Long("in_channels"), c.Long("out_channels"), c.Long("kernel_size"),
            stride: c.Long("stride"), padding: c.Long("padding"));
        LoadWeights(layer, CepstraFilterbanksNormsFixtures.Data(c, "weight"), CepstraFilterbanksNormsFixtures.Data(c, "bias"));
        var x = CepstraFilterbanksNormsFixtures.Tensor(CepstraFilterbanksNormsFixtures.Data(c, "input"));
        Compare.RelativeToMax(layer.call(x), CepstraFilterbanksNormsFixtures.Data(c, "expected"), ConvRel, name);
    }

    [TestMethod]
    public void FrequencyMap_RunsFromMinusOneToOne()
    {
        using var map = Functional.frequency_map(5);
        CollectionAssert.AreEqual(new[] { -1f, -0.5f, 0f, 0.5f, 1f }, Compare.ToArray(map));
    }

    [TestMethod]
    public void Forward_DependsOnFrequency_ForAConstantInput()
    {
        // An ordinary conv gives the same value at every (interior) bin of a constant input; the map breaks that symmetry.
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        using var layer = AudioLayers.FrequencyAwareConv2d(1, 2, 3, padding: 1);
        var y = layer.call(ones(1, 1, 20, 6));
        var interior = y[0, 0].narrow(0, 1, 18).select(1, 3);
        Assert.IsGreaterThan(1e-4, interior.max().item<float>() - interior.min().item<float>());
    }

    [TestMethod]
    [DataRow(new long[] { 1, 20, 30 }, new long[] { 4, 20, 30 })]
    [DataRow(new long[] { 5, 1, 20, 30 }, new long[] { 5, 4, 20, 30 })]
    [DataRow(new long[] { 5, 2, 20, 30 }, new long[] { 5, 4, 20, 30 })]
    public void Forward_GivesConv2dShapes_ForMonoBatchedAndMultiChannelInput(long[] input, long[] expected)
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.FrequencyAwareConv2d(input[^3], 4, 3, padding: 1);
        Compare.Shape(layer.call(randn(input)), expected, "freq-aware conv");
    }

    [TestMethod]
    public void Weights_ReceiveGradient_IncludingThoseOfTheFrequencyChannel()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.FrequencyAwareConv2d(2, 3, 3);
        Assert.AreEqual(2, layer.parameters().Count(), "weight and bias");
        Compare.Shape(layer.conv.weight!, [3, 3, 3, 3], "weight: in_channels + 1 inputs");
        layer.call(randn(2, 2, 10, 10)).pow(HeldScalars.Two).sum().backward();
        var g = layer.conv.weight!.grad!;
        Assert.IsGreaterThan(0.0, g.select(1, 2).abs().sum().item<float>(), "no gradient on the frequency channel's weights");
    }

    [TestMethod]
    public void RejectsInputWithOtherChannelCount()
    {
        using var layer = AudioLayers.FrequencyAwareConv2d(2, 3, 3);
        var e = Assert.Throws<ArgumentException>(() => layer.call(zeros(1, 3, 10, 10)));
        Assert.AreEqual("input", e.ParamName);
    }

    [TestMethod]
    public void RejectsZeroInChannels()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.FrequencyAwareConv2d(0, 3, 3));
        Assert.AreEqual("in_channels", e.ParamName);
    }

    [TestMethod]
    public void RejectsNegativePadding()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.FrequencyAwareConv2d(1, 3, 3, padding: -1));
        Assert.AreEqual("padding", e.ParamName);
    }
}
