using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>
/// <see cref="BatchNormalization"/> is TorchSharp's BatchNorm2d without its temporary Scalar: the same outputs, gradients,
/// running statistics and state names, bit for bit.
/// </summary>
[TestClass]
public sealed class BatchNormalizationTests
{
    [TestMethod]
    public void TrainingAndEvaluation_EqualTorchSharpsBatchNorm2d_BitForBit()
    {
        using var scope = NewDisposeScope();
        using var ours = AudioLayers.BatchNorm(3);
        using var reference = TorchSharpReference.BatchNorm2d(3);
        CollectionAssert.AreEqual(reference.state_dict().Keys.ToArray(), ours.state_dict().Keys.ToArray(), "state names and order");
        CollectionAssert.AreEqual(reference.named_parameters().Select(p => p.name).ToArray(), ours.named_parameters().Select(p => p.name).ToArray(), "parameters");

        var generator = new Generator(seed: 6);
        for (int step = 0; step < 5; step++)
        {
            var x = randn(new long[] { 4, 3, 8, 10 }, generator: generator);
            var a = x.clone().requires_grad_();
            var b = x.clone().requires_grad_();
            var ya = ours.call(a);
            var yb = TorchSharpReference.WithoutCollections(() => reference.call(b));
            CollectionAssert.AreEqual(Compare.ToArray(yb), Compare.ToArray(ya), $"training output, step {step}");
            ya.sum().backward();
            yb.sum().backward();
            CollectionAssert.AreEqual(Compare.ToArray(b.grad!), Compare.ToArray(a.grad!), $"input gradient, step {step}");
        }
        foreach (var (name, value) in reference.state_dict())
        {
            var mine = ours.state_dict()[name];
            Assert.AreEqual(value.dtype, mine.dtype, name);
            if (value.dtype == ScalarType.Int64) Assert.AreEqual(value.item<long>(), mine.item<long>(), name);
            else CollectionAssert.AreEqual(Compare.ToArray(value), Compare.ToArray(mine), name);
        }
        Assert.AreEqual(5L, ours.state_dict()["num_batches_tracked"].item<long>(), "one per training batch");

        ours.eval();
        reference.eval();
        var test = randn(new long[] { 2, 3, 8, 10 }, generator: generator);
        CollectionAssert.AreEqual(Compare.ToArray(reference.call(test)), Compare.ToArray(ours.call(test)), "evaluation uses the running statistics");
    }

    [TestMethod]
    public void LoadsTorchSharpsState_AndNormalisesAnyRankFromTwo()
    {
        using var scope = NewDisposeScope();
        using var reference = TorchSharpReference.BatchNorm2d(2);
        using (no_grad())
        {
            reference.state_dict()["running_mean"].copy_(tensor(new float[] { 1, -2 }));
            reference.state_dict()["running_var"].copy_(tensor(new float[] { 4, 0.25f }));
        }
        using var ours = AudioLayers.BatchNorm(2);
        ours.load_state_dict(reference.state_dict());
        ours.eval();
        var y = ours.call(tensor(new float[] { 3, 0 }, [1, 2]));
        var actual = Compare.ToArray(y);
        double[] expected = [(3 - 1) / Math.Sqrt(4 + 1e-5), (0 + 2) / Math.Sqrt(0.25 + 1e-5)];
        for (int c = 0; c < 2; c++) Assert.AreEqual(expected[c], actual[c], 1e-6 * expected[c], $"(x - mean) / sqrt(var + eps), channel {c} (float32 rounding)");
        Compare.Shape(ours.call(zeros(2, 2, 5)), [2, 2, 5], "(batch, channels, time)");
    }

    [TestMethod]
    public void Rejects_BadArguments_AndInput_NamingThem()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => AudioLayers.BatchNorm(0));
        StringAssert.Contains(e.Message, "num_features must be positive, got: 0");
        e = Assert.Throws<ArgumentOutOfRangeException>(() => AudioLayers.BatchNorm(2, momentum: 1.5));
        StringAssert.Contains(e.Message, "momentum must be in [0, 1], got: 1.5");
        using var layer = AudioLayers.BatchNorm(2);
        using var wrong = zeros(4, 3, 5);
        var e2 = Assert.Throws<ArgumentException>(() => layer.call(wrong));
        StringAssert.Contains(e2.Message, "(batch, 2, ...)");
    }
}
