using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

[TestClass]
public sealed class GpuStftEstimatorTests
{
    private sealed class Clip
    {
        [VectorType(4000)] public float[] Audio { get; set; } = [];
        public int Id { get; set; }
    }

    private static Clip[] Clips(int n, int seed = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(i => new Clip { Id = i, Audio = Enumerable.Range(0, 4000).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray() }).ToArray();
    }

    [TestMethod]
    public void Transform_MatchesLayer_AndKeepsRowOrder()
    {
        var ml = new MLContext(1);
        var clips = Clips(10);
        var data = ml.Data.LoadFromEnumerable(clips);
        var options = new GpuStftOptions { FftLength = 256, WindowLength = 200, HopLength = 80, BatchSize = 4 };
        var model = ml.Transforms.Audio.GpuStft("Spec", "Audio", options).Fit(data);
        var output = model.Transform(data);

        var col = output.Schema["Spec"];
        var type = (VectorDataViewType)col.Type;
        CollectionAssert.AreEqual(new[] { 129, 51 }, type.Dimensions.ToArray());

        using var stft = AudioLayers.Stft(256, 200, 80, output: SpectrumType.Power);
        var rows = ml.Data.CreateEnumerable<SpecRow>(output, reuseRowObject: false).ToArray();
        Assert.HasCount(10, rows);
        for (int i = 0; i < rows.Length; i++)
        {
            Assert.AreEqual(i, rows[i].Id);
            var expected = Compare.ToArray(stft.call(tensor(clips[i].Audio)));
            CollectionAssert.AreEqual(expected, rows[i].Spec, $"row {i}");
        }
    }

    [TestMethod]
    public void SaveLoad_AndPredictionEngine_GiveSameValues()
    {
        var ml = new MLContext(1);
        var clips = Clips(3);
        var data = ml.Data.LoadFromEnumerable(clips);
        var model = ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = 256, Power = 1 }).Fit(data);
        var path = Path.Combine(Path.GetTempPath(), $"stft-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, path);
            var ml2 = new MLContext(2);
            var loaded = ml2.Model.Load(path, out var schema);
            var a = ml.Data.CreateEnumerable<SpecRow>(model.Transform(data), false).ToArray();
            var b = ml2.Data.CreateEnumerable<SpecRow>(loaded.Transform(ml2.Data.LoadFromEnumerable(clips)), false).ToArray();
            for (int i = 0; i < a.Length; i++) CollectionAssert.AreEqual(a[i].Spec, b[i].Spec);
            var engine = ml2.Model.CreatePredictionEngine<Clip, SpecRow>(loaded);
            var p = engine.Predict(clips[1]);
            CollectionAssert.AreEqual(a[1].Spec, p.Spec);
        }
        finally { File.Delete(path); }
    }

    private sealed class SpecRow
    {
        public int Id { get; set; }
        public float[] Spec { get; set; } = [];
    }
}
