// The Kapre experiment (issue "Performance"): does computing the log-mel front end on the device during training cost
// much next to the network? Epoch time of the trainer on precomputed log-mel features cached on disk in ML.NET's binary
// format, against raw audio with the front end as the network's first layers, for the small and the large network.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --kapre [--epochs 6] [--out FILE] [--gpu 0]
using System.Diagnostics;
using System.Globalization;
using System.Text;
using AudioClassification;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Data;

internal static class KapreExperiment
{
    public static int Run(string[] args)
    {
        int epochs = 6;
        string? outPath = null;
        int? gpu = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--epochs") epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--out") outPath = args[++i];
            else if (args[i] == "--gpu") gpu = int.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        if (epochs < 2) throw new ArgumentException("--epochs must be at least 2 (the first epoch is left out of the mean)");

        var (train, validation, _, _) = Dataset.Split(Dataset.Load(FindWords()));
        string cache = Path.Combine(Path.GetTempPath(), $"kapre-experiment-{Environment.ProcessId}");
        Directory.CreateDirectory(cache);
        var report = new StringBuilder();
        report.AppendLine($"Machine: {Environment.ProcessorCount} cores, {(gpu is int g && TorchSharp.torch.cuda.is_available() ? $"CUDA device {g}" : "CPU")}; {train.Count} training and {validation.Count} validation clips of 1 s; " +
                          $"{epochs} epochs, mean of epochs 2-{epochs} (each includes the validation pass).");
        report.AppendLine();
        report.AppendLine("| network | log-mel precomputed, cached on disk (ML.NET binary) | front end in the network | cost of the on-device front end | one-off: featurise + save + load |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        try
        {
            foreach (var size in new[] { AudioCnnSize.Small, AudioCnnSize.Large })
            {
                var (cached, oneOff, bytes) = Precomputed(train, validation, size, epochs, gpu, cache);
                double inNetwork = InNetwork(train, validation, size, epochs, gpu);
                string line = $"| {size} | {cached:F2} s | {inNetwork:F2} s | {(inNetwork / cached - 1) * 100:+0;-0}% | {oneOff:F1} s ({bytes / 1048576.0:F1} MiB file) |";
                report.AppendLine(line);
                Console.WriteLine(line);
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
        Console.WriteLine(report);
        if (outPath is not null) File.WriteAllText(outPath, report.ToString());
        return 0;
    }

    private static MLContext Context(int? gpu) => new(1) { GpuDeviceId = gpu, FallbackToCpu = true };

    private static AudioClassificationOptions Options(AudioCnnSize size, int epochs) => new()
    {
        NetworkSize = size, Epochs = epochs, BatchSize = 16, EarlyStoppingPatience = 0,
    };

    /// <summary>Log-mel features computed once, saved with <c>SaveAsBinary</c>, loaded back with <c>LoadFromBinary</c> and trained on.</summary>
    private static (double epochSeconds, double oneOffSeconds, long bytes) Precomputed(List<LabelledFile> train, List<LabelledFile> validation,
        AudioCnnSize size, int epochs, int? gpu, string cache)
    {
        var ml = Context(gpu);
        var watch = Stopwatch.StartNew();
        var trainView = Dataset.ToDataView(ml, train);
        var featurizer = ModelTraining.LabelMap(ml)
            .Append(ml.Transforms.Audio.LoadAudio("Audio", "Path", ModelTraining.Loading))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", ModelTraining.FrontEnd))
            .Append(ml.Transforms.SelectColumns("Label", "Features"))
            .Fit(trainView);
        string trainPath = Path.Combine(cache, $"train-{size}.idv"), validationPath = Path.Combine(cache, $"validation-{size}.idv");
        foreach (var (path, set) in new[] { (trainPath, train), (validationPath, validation) })
            using (var stream = File.Create(path))
                ml.Data.SaveAsBinary(featurizer.Transform(Dataset.ToDataView(ml, set)), stream, keepHidden: false);
        var options = Options(size, epochs);
        options.FeatureColumnName = "Features";
        options.ValidationSet = ml.Data.LoadFromBinary(validationPath);
        var trainer = ml.MulticlassClassification.Trainers.AudioClassification(options);
        var featuresOnDisk = ml.Data.LoadFromBinary(trainPath);
        double oneOff = watch.Elapsed.TotalSeconds;
        var model = trainer.Fit(featuresOnDisk);
        return (MeanEpoch(model.TrainingHistory), oneOff, new FileInfo(trainPath).Length + new FileInfo(validationPath).Length);
    }

    /// <summary>Decoded audio into the trainer, whose network starts with STFT → mel → dB (Kapre's way).</summary>
    private static double InNetwork(List<LabelledFile> train, List<LabelledFile> validation, AudioCnnSize size, int epochs, int? gpu)
    {
        var ml = Context(gpu);
        var prepare = ModelTraining.LabelMap(ml)
            .Append(ml.Transforms.Audio.LoadAudio("Audio", "Path", ModelTraining.Loading))
            .Fit(Dataset.ToDataView(ml, train));
        var options = Options(size, epochs);
        options.FeatureColumnName = "Audio";
        options.FrontEnd = ModelTraining.FrontEnd;
        options.ValidationSet = prepare.Transform(Dataset.ToDataView(ml, validation));
        var model = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(prepare.Transform(Dataset.ToDataView(ml, train)));
        return MeanEpoch(model.TrainingHistory);
    }

    private static double MeanEpoch(IReadOnlyList<EpochMetrics> history) => history.Skip(1).Average(e => e.Seconds);

    /// <summary>The sample's bundled spoken words: copied next to the benchmark by its reference to the sample.</summary>
    private static string FindWords()
    {
        string beside = Path.Combine(AppContext.BaseDirectory, "Data", "words");
        if (Directory.Exists(beside)) return beside;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "samples", "AudioClassification", "Data", "words");
                if (Directory.Exists(candidate)) return candidate;
            }
        throw new DirectoryNotFoundException("samples/AudioClassification/Data/words was not found above the working directory; run from the repository.");
    }
}
