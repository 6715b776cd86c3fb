using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Training;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// The trainer's stress workloads, run in a second process (<c>dotnet exec Microsoft.ML.Audio.Gpu.Tests.dll
/// trainer-stress calm|stress OUTPUT rounds|check</c>), through the public API only. Each result goes to OUTPUT as a
/// name and the exact bits of a number, so two runs compare exactly.
/// <list type="bullet">
/// <item><c>rounds</c> (CI, <see cref="Reliability.TrainerStressTests"/>): many small runs of everything around a
/// training step, where a lifetime hole is met once per run rather than once per step: reading the data into tensors
/// (in memory and streamed), validation, <c>Evaluate</c>'s scoring, save and load, PredictionEngine, the waveform
/// augmentation and mixup, and the frozen speech embedding.</item>
/// <item><c>check</c>: issue 28's check, 256 rows of <c>[40, 32]</c> features of 4 classes, a validation set,
/// <c>BatchSize</c> 8, 30 epochs, <c>EarlyStoppingPatience</c> 0, then <c>Evaluate</c>, save, load and predictions.</item>
/// </list>
/// </summary>
/// <remarks>
/// In <c>stress</c> mode a thread forces a full garbage collection and runs the finalizers in a loop from before the
/// first <c>Fit</c> to the end. Run with <c>DOTNET_TieredCompilation=0</c>: optimised code ends a reference's life at
/// its last use, so a TorchSharp object (Tensor, Scalar, Generator, module) whose last use is an argument of a native
/// call can be finalized during that call. The process then dies (SIGSEGV) or computes different numbers. Before
/// <c>TensorCopy.FromArray</c> held its intermediate tensors in a dispose scope, <c>check</c> died in 1 of 8 runs in
/// <c>THSTensor_reshape</c> under the trainer's <c>Examples</c> constructor (docs/reliability.md).
/// </remarks>
public static class TrainerStress
{
    public const string Command = "trainer-stress";

    private const int Classes = 4, TrainRows = 256, ValidationRows = 64, Mels = 40, Frames = 32, BatchSize = 8;

    public sealed class Row
    {
        [VectorType(Mels, Frames)] public float[] Features { get; set; } = [];
        public string Class { get; set; } = "";
    }

    /// <summary>Each class raises a different band of 10 mel rows and a different quarter of the frames, in noise.</summary>
    public static Row[] Rows(int count, int seed)
    {
        var rng = new Random(seed);
        var rows = new Row[count];
        for (int i = 0; i < count; i++)
        {
            int c = i % Classes;
            var f = new float[Mels * Frames];
            for (int m = 0; m < Mels; m++)
                for (int t = 0; t < Frames; t++)
                {
                    double v = rng.NextDouble() * 2 - 1;
                    if (m / 10 == c) v += 1.5;
                    if (t / 8 == (c + 1) % Classes) v += 0.5;
                    f[m * Frames + t] = (float)v;
                }
            rows[i] = new Row { Features = f, Class = $"class{c}" };
        }
        return rows;
    }

    public static int Run(string mode, string outputPath, string workload)
    {
        if (mode is not ("calm" or "stress")) throw new ArgumentException($"mode must be calm or stress, got: {mode}", nameof(mode));
        if (workload is not ("rounds" or "check")) throw new ArgumentException($"workload must be rounds or check, got: {workload}", nameof(workload));
        using var output = new StreamWriter(outputPath);
        var watch = Stopwatch.StartNew();
        var collections = new ForcedCollections(run: mode == "stress");
        try
        {
            if (workload == "check") Check(output, watch);
            else Rounds(output);
        }
        finally
        {
            collections.Dispose();
        }
        Console.WriteLine($"{mode}: {watch.Elapsed.TotalSeconds:F1} s, {collections.Count} forced collections");
        Console.WriteLine($"tensors freed by the finalizer: {TensorsFinalized()}");
        return 0;
    }

    /// <summary>How many tensors the finalizer thread has freed: TorchSharp counts each disposal on the thread that makes
    /// it, so the finalizer thread's count is that of the tensors nobody disposed (after a collection of everything
    /// dropped so far).</summary>
    private static long TensorsFinalized()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long count = -1;
        Probe(n => count = n);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return count;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void Probe(Action<long> report) => _ = new FinalizerProbe(report);

    private sealed class FinalizerProbe(Action<long> report)
    {
        ~FinalizerProbe()
        {
            var s = TorchSharp.DisposeScopeManager.Statistics; // the finalizer thread's
            report(s.DisposedOutsideScopeCount + s.DisposedInScopeCount);
        }
    }

    /// <summary>Issue 28's check (see the class remarks).</summary>
    private static void Check(TextWriter output, Stopwatch watch)
    {
        var ml = new MLContext(seed: 1);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Class));
        var trainRaw = ml.Data.LoadFromEnumerable(Rows(TrainRows, 1));
        var keyed = keys.Fit(trainRaw);
        var train = keyed.Transform(trainRaw);
        var valid = keyed.Transform(ml.Data.LoadFromEnumerable(Rows(ValidationRows, 2)));
        var options = new AudioClassificationOptions { BatchSize = BatchSize, Epochs = 30, EarlyStoppingPatience = 0, ValidationSet = valid };
        var model = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(train);
        Console.WriteLine($"  fit: {watch.Elapsed.TotalSeconds:F1} s");
        WriteHistory(output, "check", model);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(valid));
        Write(output, "check.evaluate.microaccuracy", metrics.MicroAccuracy);
        Write(output, "check.evaluate.logloss", metrics.LogLoss);
        Console.WriteLine($"  evaluate: {watch.Elapsed.TotalSeconds:F1} s, micro-accuracy {metrics.MicroAccuracy:F3}");
        SaveLoadPredict(ml, output, "check", keyed, model, train.Schema, valid);
        model.Dispose();
    }

    /// <summary>
    /// The CI workload: 12 small runs of the trainer, each through reading the data, training 2 epochs with validation,
    /// Evaluate and, in turn, save, load and PredictionEngine; the runs alternate in-memory and streamed data, and three
    /// of them train on raw audio with the front end, the waveform augmentation and mixup, and the frozen speech
    /// embedding.
    /// </summary>
    private static void Rounds(TextWriter output)
    {
        for (int round = 0; round < 12; round++)
        {
            var watch = Stopwatch.StartNew();
            var ml = new MLContext(seed: round);
            var keys = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Row.Class));
            var trainRaw = ml.Data.LoadFromEnumerable(Rows(32, 10 + round));
            var keyed = keys.Fit(trainRaw);
            var train = keyed.Transform(trainRaw);
            var valid = keyed.Transform(ml.Data.LoadFromEnumerable(Rows(16, 50 + round)));
            var options = new AudioClassificationOptions
            {
                BatchSize = BatchSize, Epochs = 2, EarlyStoppingPatience = 0, ValidationSet = valid, StreamTrainingData = round % 2 == 1,
            };
            var model = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(train);
            string prefix = $"round{round}";
            WriteHistory(output, prefix, model);
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(valid));
            Write(output, $"{prefix}.evaluate.logloss", metrics.LogLoss);
            if (round % 3 == 0) SaveLoadPredict(ml, output, prefix, keyed, model, train.Schema, valid);
            model.Dispose();
            Console.WriteLine($"  round {round}{(options.StreamTrainingData ? " (streamed)" : "")}: {watch.Elapsed.TotalSeconds:F1} s");
        }
        Section("raw audio: front end, waveform augmentation, mixup", () => RawAudio(output));
        Section("frozen speech embedding", () => Embedding(output));
    }

    private static void Section(string name, Action run)
    {
        var watch = Stopwatch.StartNew();
        run();
        Console.WriteLine($"  {name}: {watch.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>Raw audio into the network (the front end as its first layers, trained), with speed perturbation,
    /// reverberation, background noise and mixup on every batch.</summary>
    private static void RawAudio(TextWriter output)
    {
        var ml = new MLContext(seed: 5);
        var data = AudioClips(ml, 6, 3, 8000);
        var options = new AudioClassificationOptions
        {
            FeatureColumnName = nameof(AudioClassificationTrainerTests.Clip.Audio), BatchSize = 4, Epochs = 2,
            FrontEnd = new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 }, TrainFrontEnd = true,
            AudioAugmentation = new AudioAugmentationOptions(), MixupAlpha = 0.4,
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(options)).Fit(data);
        WriteHistory(output, "audio", model.LastTransformer);
        WriteScores(output, "audio", model.Transform(data));
        model.LastTransformer.Dispose();
    }

    /// <summary>The pretrained speech embedding, frozen: each clip embedded once, then the head trained.</summary>
    private static void Embedding(TextWriter output)
    {
        var ml = new MLContext(seed: 6);
        var clips = AudioClassificationTrainerTests.Clips(3, 7);
        // 1.2 s at 16 kHz, the embedding's shortest input: the 0.25 s clips, at the start.
        var rows = clips.Select(c => new EmbeddingClip { Word = c.Word, Audio = [.. c.Audio, .. new float[EmbeddingSamples - c.Audio.Length]] }).ToArray();
        var definition = SchemaDefinition.Create(typeof(EmbeddingClip));
        definition[nameof(EmbeddingClip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 16000, NumberDataViewType.Int32);
        var data = ml.Data.LoadFromEnumerable(rows, definition);
        var options = new AudioClassificationOptions
        {
            FeatureColumnName = nameof(EmbeddingClip.Audio), Backbone = AudioBackbone.SpeechEmbedding, BatchSize = 4, Epochs = 2,
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(EmbeddingClip.Word))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(options)).Fit(data);
        WriteHistory(output, "embedding", model.LastTransformer);
        WriteScores(output, "embedding", model.Transform(data));
        model.LastTransformer.Dispose();
    }

    private const int EmbeddingSamples = 19200;

    public sealed class EmbeddingClip
    {
        [VectorType(EmbeddingSamples)] public float[] Audio { get; set; } = [];
        public string Word { get; set; } = "";
    }

    private static IDataView AudioClips(MLContext ml, int perClass, int seed, int rate)
    {
        var definition = SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
        definition[nameof(AudioClassificationTrainerTests.Clip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, rate, NumberDataViewType.Int32);
        return ml.Data.LoadFromEnumerable(AudioClassificationTrainerTests.Clips(perClass, seed), definition);
    }

    /// <summary>The model saved and loaded, then scored in batches and row by row (PredictionEngine).</summary>
    private static void SaveLoadPredict(MLContext ml, TextWriter output, string prefix, ITransformer keys, AudioClassificationTransformer model,
        DataViewSchema schema, IDataView valid)
    {
        var path = Path.Combine(Path.GetTempPath(), $"trainer-stress-{Environment.ProcessId}-{prefix}.zip");
        try
        {
            ml.Model.Save(model, schema, path);
            var loaded = ml.Model.Load(path, out _);
            WriteScores(output, $"{prefix}.loaded", loaded.Transform(valid));
            var engine = ml.Model.CreatePredictionEngine<Row, Prediction>(keys.Append(loaded));
            foreach (var (row, i) in Rows(8, 3).Select((r, i) => (r, i)))
            {
                var p = engine.Predict(row);
                for (int k = 0; k < p.Score.Length; k++) Write(output, $"{prefix}.engine.score{i}.{k}", p.Score[k]);
            }
            engine.Dispose();
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void WriteHistory(TextWriter output, string prefix, AudioClassificationTransformer model)
    {
        foreach (var e in model.TrainingHistory)
        {
            Write(output, $"{prefix}.epoch{e.Epoch}.loss", e.Loss);
            Write(output, $"{prefix}.epoch{e.Epoch}.accuracy", e.Accuracy);
            Write(output, $"{prefix}.epoch{e.Epoch}.validation", e.ValidationLoss ?? double.NaN);
        }
    }

    private static void WriteScores(TextWriter output, string prefix, IDataView scored)
    {
        var scores = AudioData.Column(scored, "Score");
        for (int i = 0; i < scores.Length; i++)
            for (int k = 0; k < scores[i].Length; k++) Write(output, $"{prefix}.score{i}.{k}", scores[i][k]);
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];
    }

    private static void Write(TextWriter output, string name, double value)
        => output.WriteLine($"{name} {BitConverter.DoubleToInt64Bits(value):x16} {value.ToString("R", CultureInfo.InvariantCulture)}");
}
