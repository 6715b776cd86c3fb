// The transfer-learning experiment (issue "pretrained speech embedding"): accuracy on voices never heard in training,
// with 10, 30 and 100 clips per class, of the pretrained speech embedding (frozen, with the trainer's new head; and as
// ML.NET features for SDCA) against the CNN trained from scratch. Each candidate's time includes decoding.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --transfer DIR [--per-class 10,30,100]
//       [--folds 5] [--out FILE] [--no-fine-tune]
//
// DIR is a folder-per-class set. Files named <speaker>-v<k>_<word>.wav (samples/AudioClassification/Data/
// generate_tts_words.sh) are split by the real speaker before "-v": each fold holds one speaker out entirely and trains
// on clips drawn from the others. Other sets (the bundled espeak-ng words) use the sample's split by speaker.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using AudioClassification;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;

internal static class TransferExperiment
{
    private sealed record Outcome(double Accuracy, double Seconds);

    public static int Run(string[] args)
    {
        string? dir = null, outPath = null;
        int[] perClass = [10, 30, 100];
        int folds = 5;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--transfer") dir = args[++i];
            else if (args[i] == "--per-class") perClass = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            else if (args[i] == "--folds") folds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--out") outPath = args[++i];
        }
        if (dir is null) throw new ArgumentException("--transfer needs the data folder");

        var data = Dataset.Load(dir);
        var files = data.Files;
        var classes = files.Select(f => f.Label).Distinct().Order().ToArray();
        static string RealSpeaker(LabelledFile f) => f.Speaker.Contains("-v") ? f.Speaker[..f.Speaker.LastIndexOf("-v", StringComparison.Ordinal)] : f.Speaker;
        bool tts = files.All(f => f.Speaker.Contains("-v"));
        var splits = new List<(string name, List<LabelledFile> pool, List<LabelledFile> test)>();
        if (tts)
        {
            foreach (var speaker in files.Select(RealSpeaker).Distinct().Order().Take(folds))
                splits.Add((speaker, files.Where(f => RealSpeaker(f) != speaker).ToList(), files.Where(f => RealSpeaker(f) == speaker).ToList()));
        }
        else
        {
            var (train, validation, test, _) = Dataset.Split(data);
            splits.Add(("sample split", [.. train, .. validation], test));
        }

        var candidates = new (string name, Func<List<LabelledFile>, List<LabelledFile>, Outcome> run)[]
        {
            ("speech embedding, frozen, trainer head", (tr, te) => Trainer(tr, te, AudioBackbone.SpeechEmbedding, AudioCnnSize.Small, epochs: 60)),
            ("speech embedding features + SDCA", Sdca),
            ("speech embedding, fine-tuned", (tr, te) => Trainer(tr, te, AudioBackbone.SpeechEmbedding, AudioCnnSize.Small, epochs: 30, fineTune: true)),
            ("CNN Small from scratch", (tr, te) => Trainer(tr, te, AudioBackbone.Cnn, AudioCnnSize.Small, epochs: 40)),
        };
        if (args.Contains("--no-fine-tune")) candidates = candidates.Where(c => !c.name.Contains("fine-tuned")).ToArray();
        var report = new StringBuilder();
        report.AppendLine($"Data: {dir} ({files.Count} files, {classes.Length} classes); held out: " +
                          (tts ? $"one real speaker per fold ({string.Join(", ", splits.Select(s => s.name))})" : "the sample's test voices") +
                          $"; {Environment.ProcessorCount} CPU cores. Accuracy on the held-out files (mean over folds), training time with decoding.");
        report.AppendLine();
        report.AppendLine($"| clips per class | {string.Join(" | ", candidates.Select(c => c.name))} |");
        report.AppendLine($"| ---: |{string.Concat(candidates.Select(_ => " ---: |"))}");
        foreach (int n in perClass)
        {
            var cells = new List<string>();
            foreach (var (name, run) in candidates)
            {
                var outcomes = new List<Outcome>();
                foreach (var (fold, pool, test) in splits)
                {
                    var train = Draw(pool, classes, n, seed: n * 31 + fold.Length);
                    if (train.Count < n * classes.Length) Console.WriteLine($"  note: fold {fold} has {train.Count} training clips, not {n * classes.Length}");
                    var outcome = run(train, test);
                    Console.WriteLine($"{n} per class, {name}, held out {fold}: {outcome.Accuracy:P1} in {outcome.Seconds:F1} s");
                    outcomes.Add(outcome);
                }
                cells.Add($"{outcomes.Average(o => o.Accuracy):P1} ({outcomes.Min(o => o.Accuracy):P0}-{outcomes.Max(o => o.Accuracy):P0}), {outcomes.Average(o => o.Seconds):F0} s");
            }
            string line = $"| {n} | {string.Join(" | ", cells)} |";
            report.AppendLine(line);
            Console.WriteLine(line);
        }
        Console.WriteLine(report);
        if (outPath is not null) File.WriteAllText(outPath, report.ToString());
        return 0;
    }

    /// <summary><paramref name="n"/> files per class, drawn round-robin over the speakers so each is represented.</summary>
    private static List<LabelledFile> Draw(List<LabelledFile> pool, string[] classes, int n, int seed)
    {
        var rng = new Random(seed);
        var result = new List<LabelledFile>();
        foreach (var c in classes)
        {
            var bySpeaker = pool.Where(f => f.Label == c).GroupBy(f => f.Speaker).Select(g => g.ToList()).ToList();
            rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bySpeaker));
            var queues = bySpeaker.Select(g => new Queue<LabelledFile>(g.OrderBy(_ => rng.Next()))).ToList();
            int taken = 0;
            while (taken < n && queues.Any(q => q.Count > 0))
                foreach (var q in queues)
                    if (taken < n && q.TryDequeue(out var f)) { result.Add(f); taken++; }
        }
        return result;
    }

    private static double Accuracy(MLContext ml, ITransformer model, IDataView test)
        => ml.MulticlassClassification.Evaluate(model.Transform(test), "Label", "Score", "PredictedLabel").MicroAccuracy;

    private static Outcome Trainer(List<LabelledFile> train, List<LabelledFile> test, AudioBackbone backbone, AudioCnnSize size, int epochs, bool fineTune = false)
    {
        var watch = Stopwatch.StartNew();
        var ml = new MLContext(1);
        var labels = ModelTraining.LabelMap(ml).Fit(Dataset.ToDataView(ml, train));
        var loading = ml.Transforms.Audio.LoadAudio("Audio", "Path", ModelTraining.Loading);
        bool embedding = backbone == AudioBackbone.SpeechEmbedding;
        IEstimator<ITransformer> featurizer = embedding ? loading : loading.Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", ModelTraining.FrontEnd));
        var options = new AudioClassificationOptions
        {
            FeatureColumnName = embedding ? "Audio" : "Features", Backbone = backbone, FineTuneBackbone = fineTune, NetworkSize = size, Epochs = epochs, BatchSize = 16,
        };
        var pipeline = featurizer.Append(ml.MulticlassClassification.Trainers.AudioClassification(options));
        var model = pipeline.Fit(labels.Transform(Dataset.ToDataView(ml, train)));
        double seconds = watch.Elapsed.TotalSeconds;
        return new Outcome(Accuracy(ml, model, labels.Transform(Dataset.ToDataView(ml, test))), seconds);
    }

    private static Outcome Sdca(List<LabelledFile> train, List<LabelledFile> test)
    {
        var watch = Stopwatch.StartNew();
        var ml = new MLContext(1);
        var labels = ModelTraining.LabelMap(ml).Fit(Dataset.ToDataView(ml, train));
        var pipeline = ml.Transforms.Audio.LoadAudio("Audio", "Path", ModelTraining.Loading)
            .Append(ml.Transforms.Audio.SpeechEmbedding("Features", "Audio"))
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .AppendCacheCheckpoint(ml)
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(l2Regularization: 0.01f, maximumNumberOfIterations: 200));
        var model = pipeline.Fit(labels.Transform(Dataset.ToDataView(ml, train)));
        double seconds = watch.Elapsed.TotalSeconds;
        return new Outcome(Accuracy(ml, model, labels.Transform(Dataset.ToDataView(ml, test))), seconds);
    }
}
