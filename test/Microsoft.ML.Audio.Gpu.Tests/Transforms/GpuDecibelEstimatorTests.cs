using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

[TestClass]
public sealed class GpuDecibelEstimatorTests
{
    // 2-D fixtures: one example per row, as the transform sees it.
    public static IEnumerable<object[]> DecibelCases => ReferenceFixtures.CaseNames("db", c => c.GetProperty("shape").GetArrayLength() == 2);

    private sealed class SpectrumRow
    {
        public float[] Spec { get; set; } = [];
    }

    [TestMethod]
    [DynamicData(nameof(DecibelCases))]
    public void Transform_MatchesTorchaudio(string name)
    {
        var c = ReferenceFixtures.Case(name);
        var input = ReferenceFixtures.Data(c.String("input")!);
        var expected = ReferenceFixtures.Data(c.String("expected")!);
        var ml = new MLContext(1);
        var definition = SchemaDefinition.Create(typeof(SpectrumRow));
        definition[nameof(SpectrumRow.Spec)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, (int)input.Shape[0], (int)input.Shape[1]);
        var data = ml.Data.LoadFromEnumerable([new SpectrumRow { Spec = input.Data }], definition);
        var options = new GpuDecibelOptions
        {
            Power = c.Double("multiplier") == 10.0 ? 2 : 1, MinAmplitude = c.Double("amin"), Reference = c.Double("ref"), TopDb = c.NullableDouble("top_db"),
        };
        var output = ml.Transforms.Audio.GpuDecibel("Db", "Spec", options).Fit(data).Transform(data);
        var values = AudioData.Column(output, "Db")[0];
        Assert.HasCount(expected.Data.Length, values);
        double worst = values.Zip(expected.Data, (a, b) => Math.Abs((double)a - b)).Max();
        Assert.IsLessThanOrEqualTo(Tolerances.DecibelAbs, worst, $"{name}: max |diff| = {worst} dB");
    }

    [TestMethod]
    public void Power_ComesFromTheSpectrumAnnotation_AndMustAgreeWithTheOptions()
    {
        var ml = new MLContext(1);
        var audio = AudioData.Load(ml, AudioData.NoiseRows(2, 2000), [2000], 16000);
        var magnitude = ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { Power = 1 }).Fit(audio).Transform(audio);
        var model = ml.Transforms.Audio.GpuDecibel("Db", "Spec").Fit(magnitude);
        Assert.AreEqual(1.0, model.Options.Power, "a magnitude spectrum is converted with 20·log10");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.GpuDecibel("Db", "Spec", new GpuDecibelOptions { Power = 2 }).Fit(magnitude));
        StringAssert.Contains(e.Message, "'Spec'");
        StringAssert.Contains(e.Message, "SpectrumPower 1");
    }
}
