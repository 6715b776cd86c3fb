// The transfer-learning experiment (docs/transfer-learning.md): accuracy on voices never heard in training, with K clips
// per class, of the pretrained speech embedding (frozen with the logistic-regression head, frozen with the head trained
// by epochs, fine-tuned) and of the CNN trained from scratch. Each candidate's time includes decoding.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --transfer DIR [--per-class 10,30,100,all]
//       [--folds 5] [--only-folds 1,2] [--candidates frozen,frozen-epochs,fine-tune,fine-tune-10,fine-tune-3,cnn,sdca] [--min-speakers N] [--out FILE]
//
// DIR is a folder-per-class set (the sample's conventions find the speakers). The folds hold whole speakers out (with at
// least --min-speakers speakers, default 2: FSDD's six voices give six-fold leave-one-speaker-out when --folds 6); each
// fold trains on K clips per class drawn round-robin over its training speakers and is scored on all its held-out files.
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

    private static readonly Dictionary<string, (string title, Func<List<LabelledFile>, List<LabelledFile>, Outcome> run)> Candidates = new()
    {
        ["frozen"] = ("embedding frozen, logistic-regression head", (tr, te) => Trainer(tr, te, AudioBackbone.SpeechEmbedding, epochs: 1)),
        ["frozen-epochs"] = ("embedding frozen, head by 60 epochs of AdamW", (tr, te) => Trainer(tr, te, AudioBackbone.SpeechEmbedding, epochs: 60, byEpochs: true)),
        ["fine-tune"] = ("embedding fine-tuned, 30 epochs", (tr, te) => Trainer(tr, te, AudioBackbone.SpeechEmbedding, epochs: 30, fineTune: true)),
        // With more clips per class, fewer epochs take about as many steps.
        ["fine-tune-10"] = ("embedding fine-tuned, 10 epochs", (tr, te) => Trainer(tr, te, AudioBackbone.SpeechEmbedding, epochs: 10, fineTune: true)),
        ["fine-tune-3"] = ("embedding fine-tuned, 3 epochs", (tr, te) => Trainer(tr, te, AudioBackbone.SpeechEmbedding, epochs: 3, fineTune: true)),
        ["cnn"] = ("Small CNN from scratch, 40 epochs", (tr, te) => Trainer(tr, te, AudioBackbone.Cnn, epochs: 40)),
        ["sdca"] = ("embedding features + ML.NET SDCA", Sdca),
    };

    public static int Run(string[] args)
    {
        string? dir = null, outPath = null;
        string[] perClass = ["10", "30", "100"];
        string[] chosen = ["frozen", "frozen-epochs", "cnn"];
        int folds = 5, minSpeakers = 2;
        HashSet<int>? onlyFolds = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--transfer") dir = args[++i];
            else if (args[i] == "--per-class") perClass = args[++i].Split(',');
            else if (args[i] == "--folds") folds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--only-folds") onlyFolds = [.. args[++i].Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))];
            else if (args[i] == "--min-speakers") minSpeakers = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--candidates") chosen = args[++i].Split(',');
            else if (args[i] == "--out") outPath = args[++i];
            else throw new ArgumentException($"unknown argument '{args[i]}'");
        }
        if (dir is null) throw new ArgumentException("--transfer needs the data folder");
        var unknown = chosen.Except(Candidates.Keys).ToArray();
        if (unknown.Length > 0) throw new ArgumentException($"unknown candidates {string.Join(", ", unknown)}; known: {string.Join(", ", Candidates.Keys)}");

        var data = Dataset.Load(dir);
        var classes = data.Classes;
        var (splits, how) = Dataset.Folds(data, folds, seed: 1, minSpeakers: minSpeakers);
        var report = new StringBuilder();
        report.AppendLine($"Data: {dir} ({data.Files.Count} files, {classes.Length} classes, {data.SpeakerCount} speakers); {how}; " +
                          $"{Environment.ProcessorCount} CPU cores. Accuracy on the held-out speakers' files (mean over {splits.Count} folds, range), training time with decoding.");
        report.AppendLine();
        report.AppendLine($"| clips per class | {string.Join(" | ", chosen.Select(c => Candidates[c].title))} |");
        report.AppendLine($"| ---: |{string.Concat(chosen.Select(_ => " ---: |"))}");
        Console.WriteLine(report);
        foreach (string k in perClass)
        {
            int n = k == "all" ? int.MaxValue : int.Parse(k, CultureInfo.InvariantCulture);
            var cells = new List<string>();
            foreach (var key in chosen)
            {
                var (name, run) = Candidates[key];
                var outcomes = new List<Outcome>();
                for (int f = 0; f < splits.Count; f++)
                {
                    if (onlyFolds is not null && !onlyFolds.Contains(f + 1)) continue;
                    var (pool, test) = splits[f];
                    var train = Draw(pool, classes, n, seed: (n == int.MaxValue ? 7 : n) * 31 + f);
                    var outcome = run(train, test);
                    Console.WriteLine($"{k} per class, {name}, fold {f + 1}: {outcome.Accuracy:P1} in {outcome.Seconds:F1} s ({train.Count} training clips, {test.Count} test)");
                    outcomes.Add(outcome);
                }
                cells.Add($"{outcomes.Average(o => o.Accuracy):P1} ({outcomes.Min(o => o.Accuracy):P0}-{outcomes.Max(o => o.Accuracy):P0}), {outcomes.Average(o => o.Seconds):F0} s" +
                          (onlyFolds is null ? "" : $" (folds {string.Join(", ", onlyFolds.Order())})"));
            }
            string line = $"| {k} | {string.Join(" | ", cells)} |";
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
            var bySpeaker = pool.Where(f => f.Label == c).GroupBy(f => f.Speaker.Length > 0 ? f.Speaker : f.Path).Select(g => g.ToList()).ToList();
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

    private static Outcome Trainer(List<LabelledFile> train, List<LabelledFile> test, AudioBackbone backbone, int epochs, bool fineTune = false, bool byEpochs = false)
    {
        var watch = Stopwatch.StartNew();
        var ml = new MLContext(1);
        var labels = ModelTraining.LabelMap(ml).Fit(Dataset.ToDataView(ml, train));
        var loading = ml.Transforms.Audio.LoadAudio("Audio", "Path", ModelTraining.Loading);
        bool embedding = backbone == AudioBackbone.SpeechEmbedding;
        IEstimator<ITransformer> featurizer = embedding ? loading : loading.Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", ModelTraining.FrontEnd));
        var options = new AudioClassificationOptions
        {
            FeatureColumnName = embedding ? "Audio" : "Features", Backbone = backbone, FineTuneBackbone = fineTune, Epochs = epochs, BatchSize = 16,
            FrozenHeadByGradient = byEpochs,
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
