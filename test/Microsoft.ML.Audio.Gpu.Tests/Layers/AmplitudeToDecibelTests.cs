using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class AmplitudeToDecibelTests
{
    public static IEnumerable<object[]> DecibelCases => ReferenceFixtures.CaseNames("db");

    [TestMethod]
    [DynamicData(nameof(DecibelCases))]
    public void Forward_MatchesTorchaudio(string name)
    {
        var c = ReferenceFixtures.Case(name);
        var input = ReferenceFixtures.Data(c.String("input")!);
        var expected = ReferenceFixtures.Data(c.String("expected")!);
        var type = c.Double("multiplier") == 10.0 ? SpectrumType.Power : SpectrumType.Magnitude;
        using var scope = NewDisposeScope();
        using var db = AudioLayers.AmplitudeToDecibel(type, c.Double("ref"), c.Double("amin"), c.NullableDouble("top_db"));

        var y = db.call(tensor(input.Data).reshape(input.Shape));
        Compare.Absolute(y, expected, Tolerances.DecibelAbs, name);
        if (c.NullableDouble("top_db") is double top)
        {
            // Each example spans at most top_db.
            var y3 = y.dim() == 2 ? y.unsqueeze(0) : y;
            for (long b = 0; b < y3.shape[0]; b++)
            {
                double span = (y3[b].max() - y3[b].min()).item<float>();
                Assert.IsLessThanOrEqualTo(top + 1e-3, span, $"{name}: example {b} spans {span} dB");
            }
        }
    }

    [TestMethod]
    public void Forward_ClampsEachExampleAgainstItsOwnMaximum_InFourDimensions()
    {
        using var scope = NewDisposeScope();
        using var db = AudioLayers.AmplitudeToDecibel(top_db: 20);
        // (batch 2, channels 2, freq 1, time 2): example 0 peaks at 1 (0 dB), example 1 at 1e-4 (-40 dB).
        var x = tensor(new float[] { 1f, 1e-6f, 1e-3f, 1e-5f, 1e-4f, 1e-8f, 1e-9f, 1e-5f }).reshape(2, 2, 1, 2);
        var y = Compare.ToArray(db.call(x));
        float[] expected = [0f, -20f, -20f, -20f, -40f, -60f, -60f, -50f];
        for (int i = 0; i < y.Length; i++) Assert.AreEqual(expected[i], y[i], 1e-4, $"element {i}");
    }
}
