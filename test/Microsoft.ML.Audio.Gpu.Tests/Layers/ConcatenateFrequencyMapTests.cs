using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class ConcatenateFrequencyMapTests
{
    [TestMethod]
    public void Forward_AppendsALinearMinusOneToOneChannel_AndKeepsTheInput()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.ConcatenateFrequencyMap();
        var x = randn(2, 3, 5, 7);
        var y = layer.call(x);
        Compare.Shape(y, [2, 4, 5, 7], "batched");
        CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(y.narrow(1, 0, 3).contiguous()), "the input channels are unchanged");
        var map = Compare.ToArray(y[1, 3, TensorIndex.Colon, 4]);
        float[] expected = [-1f, -0.5f, 0f, 0.5f, 1f];
        for (int f = 0; f < 5; f++) Assert.AreEqual(expected[f], map[f], 1e-6, $"bin {f}");
        Compare.Shape(layer.call(randn(3, 5, 7)), [4, 5, 7], "unbatched");
    }

    [TestMethod]
    public void Forward_Rejects2DInput_NamingIt()
    {
        using var layer = AudioLayers.ConcatenateFrequencyMap();
        var e = Assert.Throws<ArgumentException>(() => layer.call(zeros(5, 7)));
        Assert.AreEqual("input", e.ParamName);
    }
}
