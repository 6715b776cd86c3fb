using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Training;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>Many threads, each with its own PredictionEngine over one loaded model, give exactly the sequential outputs.</summary>
[TestClass]
public sealed class ConcurrencyTests
{
    private const int Threads = 8, PredictionsPerThread = 500;

    public sealed class Output
    {
        public float[] Score { get; set; } = [];
        public uint PredictedLabel { get; set; }
    }

    [TestMethod]
    public void EightThreads_FiveHundredPredictionsEach_MatchASequentialRun()
    {
        var ml = new MLContext(1);
        var clips = AudioClassificationTrainerTests.Clips(6, 1);
        var definition = SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
        definition[nameof(AudioClassificationTrainerTests.Clip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 8000, NumberDataViewType.Int32);
        var data = ml.Data.LoadFromEnumerable(clips, definition);
        var trained = ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(AudioClassificationTrainerTests.Clip.Audio),
                new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 }))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions { Epochs = 2, BatchSize = 8 }))
            .Fit(data);
        using var zip = new MemoryStream();
        ml.Model.Save(trained, data.Schema, zip);
        zip.Position = 0;
        var model = new MLContext(2).Model.Load(zip, out _);

        var inputs = AudioClassificationTrainerTests.Clips(20, 77); // 60 distinct clips
        var sequentialEngine = ml.Model.CreatePredictionEngine<AudioClassificationTrainerTests.Clip, Output>(model, inputSchemaDefinition: definition);
        var expected = inputs.Select(c => sequentialEngine.Predict(c)).Select(o => (o.Score.ToArray(), o.PredictedLabel)).ToArray();

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<AudioClassificationTrainerTests.Clip, Output>(model, inputSchemaDefinition: definition);
            for (int i = 0; i < PredictionsPerThread; i++)
            {
                int k = (i * 7 + t * 13) % inputs.Length;
                var o = engine.Predict(inputs[k]);
                if (!o.Score.SequenceEqual(expected[k].Item1) || o.PredictedLabel != expected[k].PredictedLabel)
                    failures.Add($"thread {t}, prediction {i}, clip {k}");
            }
        });
        Assert.IsEmpty(failures, $"{failures.Count} of {Threads * PredictionsPerThread} predictions differ from the sequential run, e.g. {failures.FirstOrDefault()}");
    }
}
