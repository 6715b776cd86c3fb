// The training experiment behind the sample's defaults (docs/training.md): networks trained on every clip of a fold's
// training speakers and scored on its held-out speakers, with each held-out clip's class probabilities written out so
// that candidates (and their combinations) can be compared on the same clips.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --keywords DIR [--folds 5] [--only-fold K]
//       [--config NAME=backbone[,key=value...]]... [--out-dir DIR] [--write-folds DIR]
//
// A config is a backbone (cnn, cnn-large, bc-resnet, embedding, embedding-fine-tune) and options: epochs=N, time=S
// (a time budget instead), dropout=D, lr=L, batch=B, mixup=A, augment=0|1, noise=1 (the data's own _silence_ /
// _background_noise_ clips as background noise, with the front end in the network; speed and room too), pink=1 (the same
// with generated pink noise), kapre=1, seconds=S (clip length).
// Output: one line per fold and config, the mean, and DIR/<config>.fold<k>.csv (path, label, probability per class).
using System.Diagnostics;
using System.Globalization;
using System.Text;
using AudioClassification;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

internal static class KeywordExperiment
{
    public static int Run(string[] args)
    {
        string? dir = null, outDir = null;
        int folds = 5;
        int? onlyFold = null;
        string? foldsDir = null;
        var configs = new List<(string name, Dictionary<string, string> options)>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--keywords") dir = args[++i];
            else if (args[i] == "--folds") folds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--only-fold") onlyFold = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--out-dir") outDir = args[++i];
            else if (args[i] == "--write-folds") foldsDir = args[++i];
            else if (args[i] == "--config")
            {
                var parts = args[++i].Split('=', 2);
                var items = parts[1].Split(',');
                var options = new Dictionary<string, string> { ["backbone"] = items[0] };
                foreach (var item in items.Skip(1)) { var kv = item.Split('='); options[kv[0]] = kv[1]; }
                configs.Add((parts[0], options));
            }
            else throw new ArgumentException($"unknown argument '{args[i]}'");
        }
        if (dir is null || (configs.Count == 0 && foldsDir is null)) throw new ArgumentException("--keywords DIR and at least one --config (or --write-folds DIR)");
        if (outDir is not null) Directory.CreateDirectory(outDir);

        var data = Dataset.Load(dir);
        var (splits, how) = Dataset.Folds(data, folds, seed: 1, minSpeakers: 2);
        Console.WriteLine($"Data: {dir}, {data.Files.Count} files, {data.Classes.Length} classes, {data.SpeakerCount} speakers ({data.SpeakerSource}); {how}; {Environment.ProcessorCount} cores.");
        if (foldsDir is not null)
        {
            // The folds as folders of links, DIR/fold<k>/{train,test}/<class>/<file>: the layout the anchors' scripts read,
            // so they run on the very same split.
            for (int k = 0; k < splits.Count; k++)
                foreach (var (part, files) in new[] { ("train", splits[k].train), ("test", splits[k].test) })
                    foreach (var f in files)
                    {
                        string folder = Path.Combine(foldsDir, $"fold{k + 1}", part, f.Label);
                        Directory.CreateDirectory(folder);
                        string link = Path.Combine(folder, Path.GetFileName(f.Path));
                        if (!File.Exists(link)) File.CreateSymbolicLink(link, f.Path);
                    }
            Console.WriteLine($"Wrote {splits.Count} folds to {foldsDir}.");
        }
        var summary = new StringBuilder();
        foreach (var (name, options) in configs)
        {
            var accuracies = new List<double>();
            var seconds = new List<double>();
            for (int k = 0; k < splits.Count; k++)
            {
                if (onlyFold is int only && only != k + 1) continue;
                var (train, test) = splits[k];
                var watch = Stopwatch.StartNew();
                // Background noise from the training speakers' side only: the fold's own _silence_ / _background_noise_ clips.
                var noise = train.Where(f => f.Label.StartsWith('_') && (f.Label.Contains("silence") || f.Label.Contains("noise"))).Select(f => f.Path).ToList();
                var (accuracy, rows) = TrainAndScore(train, test, options, noise);
                seconds.Add(watch.Elapsed.TotalSeconds);
                accuracies.Add(accuracy);
                Console.WriteLine($"{name} fold {k + 1}: {accuracy:P2} on {test.Count} held-out clips, {watch.Elapsed.TotalSeconds:F0} s ({train.Count} training clips)");
                if (outDir is not null)
                    File.WriteAllLines(Path.Combine(outDir, $"{name}.fold{k + 1}.csv"), rows);
            }
            string line = $"{name}: mean {accuracies.Average():P2} over {accuracies.Count} folds ({string.Join(", ", accuracies.Select(a => a.ToString("P1", CultureInfo.InvariantCulture)))}), {seconds.Average():F0} s per fold";
            Console.WriteLine(line);
            summary.AppendLine(line);
        }
        Console.WriteLine();
        Console.Write(summary);
        return 0;
    }

    private static double Get(Dictionary<string, string> o, string key, double fallback)
        => o.TryGetValue(key, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private static (double accuracy, List<string> rows) TrainAndScore(List<LabelledFile> train, List<LabelledFile> test, Dictionary<string, string> o, List<string> noise)
    {
        var ml = new MLContext(1);
        // The trainer's epoch and head lines, as they happen: a fold can take minutes.
        ml.Log += (_, e) =>
        {
            if (e.Message.Contains("] Epoch ") || e.Message.Contains("fitted the head") || e.Message.Contains("embedded"))
                Console.WriteLine("    " + e.Message[(e.Message.IndexOf(']') + 2)..]);
        };
        var labels = ModelTraining.LabelMap(ml).Fit(Dataset.ToDataView(ml, train));
        double clip = Get(o, "seconds", 1.0);
        var loading = ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { SampleRate = 16000, DurationSeconds = clip, Crop = CropAlignment.Loudest, Pad = PadAlignment.Center });
        string backbone = o["backbone"];
        bool embedding = backbone.StartsWith("embedding", StringComparison.Ordinal);
        bool kapre = Get(o, "kapre", 0) == 1 || Get(o, "noise", 0) == 1 || Get(o, "pink", 0) == 1;
        bool rawAudio = embedding || kapre;
        IEstimator<ITransformer> featurizer = rawAudio ? loading : loading.Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", ModelTraining.FrontEnd));
        var options = new AudioClassificationOptions
        {
            FeatureColumnName = rawAudio ? "Audio" : "Features",
            FrontEnd = kapre && !embedding ? ModelTraining.FrontEnd : null,
            Backbone = backbone switch { "bc-resnet" => AudioBackbone.BcResNet, "cnn" or "cnn-large" => AudioBackbone.Cnn, _ => AudioBackbone.SpeechEmbedding },
            NetworkSize = backbone == "cnn-large" ? AudioCnnSize.Large : AudioCnnSize.Small,
            BcResNetSize = o.TryGetValue("tau", out var tau) ? BcResNet.SizeOf(double.Parse(tau, CultureInfo.InvariantCulture)) : BcResNetSize.Tau3,
            FineTuneBackbone = backbone == "embedding-fine-tune",
            Epochs = (int)Get(o, "epochs", 30),
            MaxTrainingTime = o.ContainsKey("time") ? TimeSpan.FromSeconds(Get(o, "time", 0)) : null,
            Dropout = Get(o, "dropout", 0.2),
            LearningRate = Get(o, "lr", 3e-3),
            BatchSize = (int)Get(o, "batch", 32),
            MixupAlpha = Get(o, "mixup", 0),
            Augment = Get(o, "augment", 1) == 1,
        };
        if (Get(o, "noise", 0) == 1 && noise.Count > 0)
        {
            var clips = noise.Select(p => AudioDecoder.Decode(p, new AudioDecodeOptions { SampleRate = 16000 }).Samples).ToList();
            options.AudioAugmentation = new AudioAugmentationOptions { BackgroundNoise = true, NoiseClips = clips };
        }
        // The same waveform augmentation with generated pink noise instead of the data's recordings: what noise=1 is
        // measured against.
        if (Get(o, "pink", 0) == 1) options.AudioAugmentation = new AudioAugmentationOptions { BackgroundNoise = true };
        var pipeline = featurizer.Append(ml.MulticlassClassification.Trainers.AudioClassification(options));
        var model = pipeline.Fit(labels.Transform(Dataset.ToDataView(ml, train)));
        var scored = model.Transform(labels.Transform(Dataset.ToDataView(ml, test)));
        var metrics = ml.MulticlassClassification.Evaluate(scored, "Label", "Score", "PredictedLabel");
        var classes = new VBuffer<ReadOnlyMemory<char>>();
        scored.Schema["Score"].GetSlotNames(ref classes);
        var rows = new List<string> { "path,label," + string.Join(",", classes.DenseValues()) };
        using (var cursor = scored.GetRowCursor([scored.Schema["Path"], scored.Schema["Score"]]))
        {
            var path = cursor.GetGetter<ReadOnlyMemory<char>>(scored.Schema["Path"]);
            var score = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
            ReadOnlyMemory<char> p = default;
            VBuffer<float> s = default;
            while (cursor.MoveNext())
            {
                path(ref p);
                score(ref s);
                string file = p.ToString();
                rows.Add($"{file},{test.First(f => f.Path == file).Label},{string.Join(",", s.DenseValues().Select(v => v.ToString("G6", CultureInfo.InvariantCulture)))}");
            }
        }
        (model as IDisposable)?.Dispose();
        return (metrics.MicroAccuracy, rows);
    }
}
