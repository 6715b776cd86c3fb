// Training speed of each network the trainer offers: examples per second through the real trainer (ML.NET data view
// in, AdamW steps, augmentation on), on log-mel features of the sample's shape (40 mels x 101 frames: 1 s at 16 kHz,
// hop 160), and scoring speed through the trained transformer.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --train-speed [--rows 2000] [--epochs 3] [--out FILE] [--gpu 0]
//       [--network "CNN Small"] [--onednn-max-isa AVX|AVX2|...]
//
// --onednn-max-isa opts into KapreRuntime's oneDNN limit (before anything else runs); the report then says which limit
// was in force, and how many steps the trainer's guard recomputed or skipped (a non-finite gradient).
//
// Epoch 1 pays for warm-up (allocator, kernels), so the figure is the mean of the later epochs. The features are random:
// speed does not depend on what is learned.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Data;

internal static class TrainingSpeed
{
    private sealed class Row
    {
        public uint Label { get; set; }
        [VectorType(40, 101)] public float[] Features { get; set; } = [];
    }

    /// <summary>
    /// Peak memory of training on <paramref name="rows"/> clips of log-mel features made on the fly (nothing stored):
    /// held in memory, or streamed from the data view (<c>--stream</c>). Training stops after <c>--seconds</c> (default 20),
    /// mid-epoch: the peak is reached while the data is read and the first batches run.
    /// <code>dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --train-memory 100000 [--stream] [--seconds 20]</code>
    /// </summary>
    public static int Memory(string[] args)
    {
        int rows = int.Parse(args[Array.IndexOf(args, "--train-memory") + 1], CultureInfo.InvariantCulture);
        bool stream = args.Contains("--stream");
        int seconds = args.Contains("--seconds") ? int.Parse(args[Array.IndexOf(args, "--seconds") + 1], CultureInfo.InvariantCulture) : 20;
        IEnumerable<Row> Rows()
        {
            var rng = new Random(1);
            for (int i = 0; i < rows; i++)
            {
                var f = new float[40 * 101];
                for (int k = 0; k < f.Length; k++) f[k] = rng.NextSingle() * 80 - 80;
                yield return new Row { Label = (uint)(i % 10 + 1), Features = f };
            }
        }
        var ml = new MLContext(1);
        // LoadFromEnumerable re-enumerates for each cursor: the rows exist one at a time, as they would read from disk.
        var view = ml.Data.LoadFromEnumerable(Rows(), SchemaDefinition.Create(typeof(Row)));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label", keyData: ml.Data.LoadFromEnumerable(Enumerable.Range(1, 10).Select(k => new { Label = (uint)k }))).Fit(view).Transform(view);
        var watch = Stopwatch.StartNew();
        using var classifier = ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions
        {
            Epochs = 1, BatchSize = 32, StreamTrainingData = stream, MaxTrainingTime = TimeSpan.FromSeconds(seconds),
        }).Fit(keyed);
        var process = Process.GetCurrentProcess();
        string line = $"{rows:N0} clips of 40 x 101 log-mel ({rows * 40L * 101 * 4 / (1 << 20):N0} MiB of features), {(stream ? "streamed" : "in memory")}: " +
                      $"peak working set {process.PeakWorkingSet64 / (1 << 20):N0} MiB, {watch.Elapsed.TotalSeconds:F0} s (training stopped at {seconds} s).";
        Console.WriteLine(line);
        return 0;
    }

    public static int Run(string[] args)
    {
        int rows = 2000, epochs = 3, batch = 32;
        string? outPath = null, network = null;
        int? gpu = null;
        int isaArg = Array.IndexOf(args, "--onednn-max-isa");
        if (isaArg >= 0)
            KapreRuntime.Configure(new KapreRuntimeOptions { OneDnnMaxInstructionSet = Enum.Parse<OneDnnInstructionSet>(args[isaArg + 1], ignoreCase: true) });
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--network") network = args[++i];
            if (args[i] == "--rows") rows = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--epochs") epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--out") outPath = args[++i];
            else if (args[i] == "--gpu") gpu = int.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        if (epochs < 2) throw new ArgumentException("--epochs must be at least 2 (the first epoch is left out of the mean)");

        var rng = new Random(1);
        var data = Enumerable.Range(0, rows).Select(i => new Row
        {
            Label = (uint)(i % 10 + 1),
            Features = Enumerable.Range(0, 40 * 101).Select(_ => (float)(rng.NextDouble() * 80 - 80)).ToArray(),
        }).ToList();

        var report = new StringBuilder();
        report.AppendLine($"Machine: {Environment.ProcessorCount} cores, {(gpu is int g && TorchSharp.torch.cuda.is_available() ? $"CUDA device {g}" : "CPU")}, " +
                          $"libtorch threads {TorchSharp.torch.get_num_threads()}; {rows} examples of 40 x 101 log-mel, 10 classes, batch {batch}, " +
                          $"mean of epochs 2-{epochs}; {KapreRuntime.Describe()}.");
        report.AppendLine();
        report.AppendLine("| network | weights | training examples/s | scoring examples/s | training s | guarded steps |");
        report.AppendLine("| --- | ---: | ---: | ---: | ---: | --- |");
        foreach (var (name, options) in Networks().Where(n => network is null || n.name == network))
        {
            // Falls back to the CPU without CUDA, as the other device-check runs do; the report then says CPU.
            var ml = new MLContext(1) { GpuDeviceId = gpu, FallbackToCpu = true };
            string guarded = "none";
            ml.Log += (_, e) =>
            {
                var m = System.Text.RegularExpressions.Regex.Match(e.Message, @"([0-9]+) training step\(s\) had a non-finite gradient and were recomputed, ([0-9]+) were skipped");
                if (m.Success) guarded = $"{m.Groups[1].Value} recomputed, {m.Groups[2].Value} skipped";
            };
            var view = ml.Data.LoadFromEnumerable(data, SchemaDefinition.Create(typeof(Row)));
            var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
            options.Epochs = epochs;
            options.BatchSize = batch;
            var classifier = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(keyed);
            double trainRate = rows / classifier.TrainingHistory.Skip(1).Average(h => h.Seconds);
            var watch = Stopwatch.StartNew();
            var scored = classifier.Transform(keyed);
            using (var cursor = scored.GetRowCursor(scored.Schema.Where(c => c.Name == "Score")))
            {
                var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
                var v = default(VBuffer<float>);
                while (cursor.MoveNext()) getter(ref v);
            }
            double scoreRate = rows / watch.Elapsed.TotalSeconds;
            long weights = classifier.Module.parameters().Sum(p => p.numel());
            double seconds = classifier.TrainingHistory.Sum(h => h.Seconds);
            string line = $"| {name} | {weights:N0} | {trainRate:F0} | {scoreRate:F0} | {seconds:F1} | {guarded} |";
            Console.WriteLine(line);
            report.AppendLine(line);
            classifier.Dispose();
            // Written after each network: a run cut short by its time limit (the device check's) keeps what it measured.
            if (outPath is not null) File.WriteAllText(outPath, report.ToString());
        }
        if (outPath is not null) File.WriteAllText(outPath, report.ToString());
        Console.WriteLine();
        Console.WriteLine(report);
        return 0;
    }

    private static IEnumerable<(string name, AudioClassificationOptions options)> Networks()
    {
        yield return ("CNN Small", new AudioClassificationOptions { NetworkSize = AudioCnnSize.Small });
        yield return ("CNN Large", new AudioClassificationOptions { NetworkSize = AudioCnnSize.Large });
        foreach (var size in new[] { BcResNetSize.Tau1, BcResNetSize.Tau3, BcResNetSize.Tau8 })
            yield return ($"BC-ResNet-{BcResNet.Tau(size).ToString(CultureInfo.InvariantCulture)}", new AudioClassificationOptions { Backbone = AudioBackbone.BcResNet, BcResNetSize = size });
    }
}
