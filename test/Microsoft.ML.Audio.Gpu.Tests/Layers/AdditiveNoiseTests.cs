using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class AdditiveNoiseTests
{
    /// <summary>Sampling error of a deviation estimated from 64,000 Gaussian draws: about 0.3 %; 3 % is ten times that.</summary>
    private const double DeviationRel = 0.03;

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Eval_IsIdentity(bool randomGain)
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.AdditiveNoise(0.5, randomGain);
        layer.eval();
        var x = randn(3, 2, 40, 50);
        CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(layer.call(x)));
    }

    [TestMethod]
    [DataRow(new long[] { 64000 })]
    [DataRow(new long[] { 4, 16000 })]
    [DataRow(new long[] { 4, 2, 40, 200 })]
    public void Train_AddsNoiseOfTheGivenDeviation(long[] shape)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(11);
        using var layer = AudioLayers.AdditiveNoise(power: 0.2);
        layer.train();
        var x = ones(shape);
        var y = layer.call(x);
        Compare.Shape(y, shape, "noisy");
        var noise = y.sub(x);
        Assert.AreEqual(0.2, noise.std().item<float>(), 0.2 * DeviationRel, "deviation of the added noise");
        Assert.AreEqual(0.0, noise.mean().item<float>(), 0.01, "noise is zero-mean");
    }

    [TestMethod]
    public void Train_WithRandomGain_DrawsADeviationPerExample_BelowPower()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(12);
        using var layer = AudioLayers.AdditiveNoise(power: 1.0, random_gain: true);
        layer.train();
        var x = zeros(16, 20000);
        var deviations = layer.call(x).std(1).data<float>().ToArray();
        Assert.IsTrue(deviations.All(d => d < 1.0 + DeviationRel), "a deviation above power");
        Assert.IsGreaterThan(0.2, deviations.Max() - deviations.Min(), "examples should get different gains");
    }

    [TestMethod]
    public void Train_IsRepeatable_WithTheSameSeed()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.AdditiveNoise(0.1, random_gain: true);
        layer.train();
        var x = zeros(3, 100);
        random.manual_seed(5);
        var a = Compare.ToArray(layer.call(x));
        random.manual_seed(5);
        CollectionAssert.AreEqual(a, Compare.ToArray(layer.call(x)));
    }

    [TestMethod]
    [DataRow(-0.1)]
    [DataRow(double.NaN)]
    public void RejectsNegativeOrNaNPower(double power)
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.AdditiveNoise(power));
        Assert.AreEqual("power", e.ParamName);
    }
}
