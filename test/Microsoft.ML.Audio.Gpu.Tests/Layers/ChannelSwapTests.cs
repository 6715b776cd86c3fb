using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class ChannelSwapTests
{
    [TestMethod]
    [DataRow(new long[] { 2, 3, 5 }, new long[] { 2, 5, 3 })]
    [DataRow(new long[] { 2, 3, 40, 7 }, new long[] { 2, 40, 7, 3 })]
    [DataRow(new long[] { 2, 1, 40, 7 }, new long[] { 2, 40, 7, 1 })]
    public void ToChannelsLast_MovesTheChannelAxisToTheEnd(long[] input, long[] expected)
    {
        using var scope = NewDisposeScope();
        using var swap = AudioLayers.ChannelSwap(to_channels_last: true);
        var x = randn(input);
        var y = swap.call(x);
        Compare.Shape(y, expected, "channels last");
        Assert.IsTrue(y.is_contiguous());
        // Element (b, c, f, t) is now at (b, f, t, c).
        var last = input.Length - 1;
        CollectionAssert.AreEqual(Compare.ToArray(x.select(1, input[1] - 1)), Compare.ToArray(y.select(last, input[1] - 1)));
    }

    [TestMethod]
    public void ToChannelsFirst_UndoesToChannelsLast()
    {
        using var scope = NewDisposeScope();
        using var last = AudioLayers.ChannelSwap(true);
        using var first = AudioLayers.ChannelSwap(false);
        var x = randn(3, 2, 16, 9);
        var y = first.call(last.call(x));
        Compare.Shape(y, [3, 2, 16, 9], "round trip");
        CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(y));
    }

    [TestMethod]
    public void PassesGradient()
    {
        using var scope = NewDisposeScope();
        using var swap = AudioLayers.ChannelSwap();
        var x = randn(2, 3, 4, 5).requires_grad_();
        swap.call(x).sum().backward();
        Assert.AreEqual(120f, x.grad!.sum().item<float>(), "every element gets gradient 1");
    }

    [TestMethod]
    public void RejectsInputWithoutChannelAxis()
    {
        using var swap = AudioLayers.ChannelSwap();
        var e = Assert.Throws<ArgumentException>(() => swap.call(zeros(4, 100)));
        Assert.AreEqual("input", e.ParamName);
    }
}
