// Training speed of each network the trainer offers: examples per second through the real trainer (ML.NET data view
// in, AdamW steps, augmentation on), on log-mel features of the sample's shape (40 mels x 101 frames: 1 s at 16 kHz,
// hop 160), and scoring speed through the trained transformer.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --train-speed [--rows 2000] [--epochs 3] [--out FILE] [--gpu 0]
//
// Epoch 1 pays for warm-up (allocator, kernels), so the figure is the mean of the later epochs. The features are random:
// speed does not depend on what is learned.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Data;

internal static class TrainingSpeed
{
    private sealed class Row
    {
        public uint Label { get; set; }
        [VectorType(40, 101)] public float[] Features { get; set; } = [];
    }

    public static int Run(string[] args)
    {
        int rows = 2000, epochs = 3, batch = 32;
        string? outPath = null;
        int? gpu = null;
        for (int i = 0; i < args.Length; i++)
        {
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
                          $"mean of epochs 2-{epochs}.");
        report.AppendLine();
        report.AppendLine("| network | weights | training examples/s | scoring examples/s |");
        report.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var (name, options) in Networks())
        {
            var ml = new MLContext(1) { GpuDeviceId = gpu, FallbackToCpu = gpu is null };
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
            string line = $"| {name} | {weights:N0} | {trainRate:F0} | {scoreRate:F0} |";
            Console.WriteLine(line);
            report.AppendLine(line);
            classifier.Dispose();
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
