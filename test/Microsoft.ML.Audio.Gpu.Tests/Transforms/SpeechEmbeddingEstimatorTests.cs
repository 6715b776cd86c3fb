using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
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
    [DataRow(EmbeddingPooling.None, new[] { 96, 16 })]
    public void Output_EqualsTheLayer_InBatchesAndSingleRows(EmbeddingPooling pooling, int[] dims)
    {
        var ml = new MLContext(1);
        var data = Audio(ml, rows: 5);
        var model = ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio", new SpeechEmbeddingOptions { Pooling = pooling, BatchSize = 3 }).Fit(data);
        var type = (VectorDataViewType)model.GetOutputSchema(data.Schema)["Embedding"].Type;
        CollectionAssert.AreEqual(dims, type.Dimensions.ToArray(), "output dimensions");
        var rows = AudioData.Column(model.Transform(data), "Embedding");

        // The transform's defaults: a one-second clip centred in 2 s.
        using var layer = SpeechEmbedding.Pretrained(pooling, min_samples: 32000);
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

    /// <summary>openWakeWord's two ONNX graphs (ONNX Runtime) on <paramref name="clip"/> placed in
    /// <paramref name="length"/> samples with <paramref name="before"/> zeros before it: mean and max of the windows.</summary>
    private static float[] OnnxPooled(float[] clip, int length, int before)
    {
        var placed = new float[length];
        clip.CopyTo(placed, before);
        using var melSession = SpeechEmbeddingTests.Session(SpeechEmbeddingTests.MelOnnx);
        using var embeddingSession = SpeechEmbeddingTests.Session(SpeechEmbeddingTests.EmbeddingOnnx);
        var mel = SpeechEmbeddingTests.OnnxMel(melSession, placed, out int frames);
        int windows = 1 + (frames - SpeechEmbeddingNetwork.WindowFrames) / SpeechEmbedding.WindowStep;
        var each = Enumerable.Range(0, windows).Select(w => SpeechEmbeddingTests.OnnxEmbedding(embeddingSession,
            mel.Skip(w * SpeechEmbedding.WindowStep * 32).Take(SpeechEmbeddingNetwork.WindowFrames * 32).ToArray())).ToArray();
        return [.. Enumerable.Range(0, 96).Select(j => each.Average(e => e[j])), .. Enumerable.Range(0, 96).Select(j => each.Max(e => e[j]))];
    }

    [TestMethod]
    public void PooledEmbedding_OfAShortRealWord_EqualsTheOnnxGraphs_OnTheWordCentred()
    {
        // The loudest 0.45 s of real speech (Kapre's recording) as a variable-length column: the transform's default places
        // it in the middle of 1.5 s, and must equal openWakeWord's graphs on the clip placed so by hand. Padded at the
        // end instead (the placement before), the embedding differs by far more than the tolerance, so the test fails
        // for that placement.
        var clip = AudioDecoder.Decode(Path.Combine(ReferenceFixtures.Root, "kapre", "speech_test_file.wav"),
            new AudioDecodeOptions { SampleRate = 16000, DurationSeconds = 0.45, Crop = CropAlignment.Loudest }).Samples;
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, [new AudioRow { Id = 0, Audio = clip }], dimensions: null, sampleRate: 16000);
        var model = ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio").Fit(data);
        var type = (VectorDataViewType)model.GetOutputSchema(data.Schema)["Embedding"].Type;
        Assert.AreEqual(192, type.Size, "a pooled embedding has a known size whatever the audio's length");
        var ours = AudioData.Column(model.Transform(data), "Embedding")[0];

        int length = (int)Math.Round(SpeechEmbeddingOptions.DefaultMinimumDurationSeconds * 16000);
        var centred = OnnxPooled(clip, length, (length - clip.Length) / 2);
        var atStart = OnnxPooled(clip, length, 0);
        double error = SpeechEmbeddingTests.MaxRelative(ours, centred), other = SpeechEmbeddingTests.MaxRelative(ours, atStart);
        Console.WriteLine($"0.45 s of real speech in {length} samples: {error:E2} from the ONNX graphs on the centred clip, {other:E2} from the clip padded at its end");
        Assert.IsLessThan(Tolerances.SpeechEmbeddingRel, error, "centred as documented");
        Assert.IsGreaterThan(100 * Tolerances.SpeechEmbeddingRel, other, "the end-padded placement is told apart");
    }

    [TestMethod]
    public void PooledEmbedding_OfVariableLengthAudio_FeedsNormalizeMeanVariance()
    {
        // ML.NET's normalisers and linear trainers need a known-size vector: clips of different lengths (0.3 to 2.5 s)
        // all give [192].
        var ml = new MLContext(1);
        var rows = new[] { 4800, 16000, 40000 }.Select((n, i) => new AudioRow { Id = i, Audio = AudioData.Noise(n, seed: i + 1) }).ToArray();
        var data = AudioData.Load(ml, rows, dimensions: null, sampleRate: 16000);
        var pipeline = ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio").Append(ml.Transforms.NormalizeMeanVariance("Normalized", "Embedding"));
        var output = pipeline.Fit(data).Transform(data);
        var normalized = AudioData.Column(output, "Normalized");
        Assert.HasCount(3, normalized);
        Assert.IsTrue(normalized.All(r => r.Length == 192 && r.All(float.IsFinite)), "three finite [192] rows");
    }
}
