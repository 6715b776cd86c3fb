using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class SpecAugmentTests
{
    [TestMethod]
    public void Eval_IsIdentity()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.SpecAugment(2, 8, 2, 10);
        layer.eval();
        var x = randn(3, 1, 40, 101);
        CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(layer.call(x)));
    }

    [TestMethod]
    public void Train_MasksWholeBandsAndSpans_PerExample_WithinTheWidths()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        using var layer = AudioLayers.SpecAugment(freq_mask_count: 1, freq_mask_width: 6, time_mask_count: 1, time_mask_width: 9, mask_value: -5);
        layer.train();
        var x = ones(16, 2, 40, 100);
        var y = layer.call(x);
        Compare.Shape(y, [16, 2, 40, 100], "masked");
        using var maskValue = (-5).ToScalar();
        var masked = y.eq(maskValue);
        for (long e = 0; e < 16; e++)
        {
            // Channels share the example's mask; masked cells form full rows (frequency) and full columns (time).
            CollectionAssert.AreEqual(Compare.ToArray(masked[e, 0].to(ScalarType.Float32)), Compare.ToArray(masked[e, 1].to(ScalarType.Float32)));
            var rows = masked[e, 0].all(1).sum().item<long>();
            var cols = masked[e, 0].all(0).sum().item<long>();
            Assert.IsLessThanOrEqualTo(6L, rows, $"example {e}: frequency mask wider than 6");
            Assert.IsLessThanOrEqualTo(9L, cols, $"example {e}: time mask wider than 9");
            long expected = rows * 100 + cols * 40 - rows * cols;
            Assert.AreEqual(expected, masked[e, 0].sum().item<long>(), $"example {e}: only whole bands and spans are masked");
        }
        Assert.IsGreaterThan(0L, masked.sum().item<long>(), "something was masked");
    }

    [TestMethod]
    public void NegativeWidth_IsRejected_NamingIt()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.SpecAugment(freq_mask_width: -1));
        Assert.AreEqual("freq_mask_width", e.ParamName);
    }
}
