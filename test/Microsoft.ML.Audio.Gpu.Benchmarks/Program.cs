// End-to-end throughput of the mel front end, side by side in one process (issue: "Performance").
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks [-- --runs 5] [--out FILE] [--gpu 0] [--only W1]
// (--web: the web sample under load, WebLoad.cs; --web-teach and --web-stream: its teach and live modes, WebTeach.cs; --parity: every transform on a device against the CPU, DeviceParity.cs;
//  --cuda-tests: the test project's CUDA-only tests where there is no .NET SDK, CudaTestRunner.cs.)
// (--only runs one workload, so the process's peak working set is that workload's.)
//
// Workloads (random audio, fixed seed): periodic Hann, centred with reflect padding, power 2, HTK mel, power to dB with
// top_db 80. Each candidate computes the same log-mel spectrograms and hands them back in managed memory.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using NWaves.FeatureExtractors;
using NWaves.FeatureExtractors.Options;
using NWaves.Filters.Fda;
using TorchSharp;
using static TorchSharp.torch;

if (args.Contains("--micro"))
{
    // BenchmarkDotNet micro benchmarks of the layer stages, in process (no SDK needed, so it also runs from the GPU bundle).
    BenchmarkDotNet.Running.BenchmarkRunner.Run<LayerBenchmarks>(args: args.Where(a => a != "--micro").ToArray());
    return 0;
}

if (args.Contains("--kapre")) return KapreExperiment.Run(args);
if (args.Contains("--web-teach") || args.Contains("--web-stream") || args.Contains("--web-screenshots")) return await WebTeach.Run(args);
if (args.Contains("--web")) return await WebLoad.Run(args);
if (args.Contains("--learning-curves")) return LearningCurves.Run(args);
if (args.Contains("--transfer")) return TransferExperiment.Run(args);
if (args.Contains("--keywords")) return KeywordExperiment.Run(args);
if (args.Contains("--stream-sweep")) return StreamExperiment.Run(args);
if (args.Contains("--train-speed")) return TrainingSpeed.Run(args);
if (args.Contains("--train-memory")) return TrainingSpeed.Memory(args);
if (args.Contains("--decode-speed")) return DecodeSpeed.Run(args);
if (args.Contains("--parity")) return DeviceParity.Run(args);
if (args.Contains("--cuda-tests")) return CudaTestRunner.Run(args);

int runs = 5;
string? outPath = null, jsonPath = null;
int? gpu = null;
string? only = null, candidate = null;
bool plainProcess = false, baseline = true;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--only") only = args[++i];
    else if (args[i] == "--runs") runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--out") outPath = args[++i];
    else if (args[i] == "--gpu") gpu = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--json") jsonPath = args[++i];
    else if (args[i] == "--plain-process") plainProcess = true; // the child: the C allocator as a user's process has it
    else if (args[i] == "--no-baseline") baseline = false;
    else if (args[i] == "--candidate") candidate = args[++i]; // pipeline, layers, naive or nwaves: that one alone
    else if (args[i] == "--threads") set_num_threads(int.Parse(args[++i], CultureInfo.InvariantCulture)); // libtorch intra-op threads
}
// The library leaves the allocator alone; this app opts into KapreRuntime's setting (what README's figures use),
// except in the child that measures the plain process.
if (!plainProcess) KapreRuntime.Configure(new KapreRuntimeOptions { KeepFreedCpuMemory = true });

var workloads = new[]
{
    new Workload("W1", "speech commands", Clips: 64, Seconds: 1.0, Rate: 16000, Fft: 512, Win: 400, Hop: 160, Mels: 64),
    new Workload("W2", "music", Clips: 1, Seconds: 30.0, Rate: 22050, Fft: 2048, Win: 2048, Hop: 512, Mels: 128),
    new Workload("W3", "mid-size clips", Clips: 16, Seconds: 4.0, Rate: 16000, Fft: 1024, Win: 1024, Hop: 256, Mels: 128),
};
if (gpu is not null)
    workloads = [.. workloads, new Workload("W1x256", "speech commands, batches of 256", Clips: 256, Seconds: 1.0, Rate: 16000, Fft: 512, Win: 400, Hop: 160, Mels: 64)];
var w4 = new Workload("W4", "one clip per call", Clips: 3000, Seconds: 0.44, Rate: 8000, Fft: 256, Win: 256, Hop: 128, Mels: 40);

var device = gpu is int g && cuda.is_available() ? new Device(DeviceType.CUDA, g) : CPU;

// The naive composition as it runs in a user's process: a fresh child process per workload that runs it alone and
// never changes the C allocator (glibc's thresholds adapt to what a process did before, so a shared process would
// measure its history). The ML.NET pipeline gets the same treatment without the allocator setting (KapreRuntime), to
// show what the allocator policy is worth on its own. This process then runs every candidate with the setting in place,
// which the naive composition in the same process also enjoys: both baselines are reported.
Dictionary<string, double>? plain = null;
if (baseline && !plainProcess && device.type == DeviceType.CPU)
{
    Console.WriteLine("Baselines: the naive composition, and the pipeline without the allocator setting, each workload in a fresh process ...");
    plain = [];
    foreach (var name in new[] { "W1", "W2", "W3", "W4" }.Where(n => only is null || n == only))
        foreach (var c in new[] { "naive", "pipeline" })
            foreach (var (key, ms) in RunPlainProcess(runs, name, c)) plain[key] = ms;
}

var report = new StringBuilder();
report.AppendLine($"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, TorchSharp {typeof(torch).Assembly.GetName().Version}, " +
                  $"libtorch threads {get_num_threads()}, device {device}; median of {runs} rounds after a warm-up, candidates taking turns in each round" +
                  (plainProcess ? "; C allocator left at its defaults (plain process)." : "."));
report.AppendLine();
report.AppendLine(plain is null
    ? "| workload | candidate | audio-s per s | ms per run | vs naive TorchSharp | vs NWaves |"
    : "| workload | candidate | audio-s per s | ms per run | vs naive, same process | vs naive, plain process | vs NWaves |");
report.AppendLine(plain is null ? "| --- | --- | ---: | ---: | ---: | ---: |" : "| --- | --- | ---: | ---: | ---: | ---: | ---: |");
Console.WriteLine(report.ToString().TrimEnd());
var measured = new Dictionary<string, double>();

foreach (var w in workloads.Where(w => only is null || w.Name == only))
{
    var audio = w.Audio(seed: 1);
    var candidates = new List<(string name, Action run)>();
    if (Runs("pipeline")) candidates.Add(("ML.NET MelSpectrogramGpu (batched cursor)", Pipeline(w, audio, gpu)));
    if (Runs("layers")) candidates.Add(("TorchSharp layers (AudioLayers.MelSpectrogram)", Layers(w, audio, device)));
    if (Runs("naive")) candidates.Add(("naive TorchSharp composition", Naive(w, audio, device)));
    if (Runs("nwaves")) candidates.Add(("NWaves 0.9.6 (1 thread)", NWavesRun(w, audio)));
    Report(w, TimeInterleaved(runs, candidates));
}

// W4: latency per clip, one clip per call.
if (only is null || only == w4.Name)
{
    var audio = w4.Audio(seed: 4);
    var candidates = new List<(string name, Action run)>();
    if (Runs("pipeline")) candidates.Add(("ML.NET PredictionEngine (per clip)", PredictionEngineRun(w4, audio, gpu)));
    if (Runs("layers")) candidates.Add(("TorchSharp layers (per clip)", PerClip(w4, audio, Layers, device)));
    if (Runs("naive")) candidates.Add(("naive TorchSharp composition (per clip)", PerClip(w4, audio, Naive, device)));
    if (Runs("nwaves")) candidates.Add(("NWaves 0.9.6 (per clip)", NWavesRun(w4, audio)));
    Report(w4, TimeInterleaved(runs, candidates), perClip: true);
}
int footer = report.Length;
report.AppendLine();
report.AppendLine($"Peak working set of the benchmark process: {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:F0} MiB.");
report.AppendLine($"Process-wide settings: {KapreRuntime.Describe()}.");
if (plain is not null)
{
    report.AppendLine();
    report.AppendLine("Fresh processes with the C allocator's defaults (one per workload and candidate, same run):");
    report.AppendLine();
    report.AppendLine("| workload | candidate | ms per run |");
    report.AppendLine("| --- | --- | ---: |");
    foreach (var (key, ms) in plain)
        report.AppendLine($"| {key.Split('|')[0]} | {key.Split('|')[1]} | {ms:F2} |");
}
Console.WriteLine(report.ToString()[footer..].TrimEnd());
if (outPath is not null) File.WriteAllText(outPath, report.ToString());
if (jsonPath is not null) File.WriteAllText(jsonPath, System.Text.Json.JsonSerializer.Serialize(measured));
return 0;

bool Runs(string name) => candidate is null || candidate == name;

void Report(Workload w, List<(string name, double ms)> results, bool perClip = false)
{
    foreach (var (name, ms) in results) measured[$"{w.Name}|{name}"] = ms;
    if (candidate is not null) return; // a child measuring one candidate: the parent reports
    double naive = results.First(r => r.name.StartsWith("naive")).ms, nwaves = results.First(r => r.name.StartsWith("NWaves")).ms;
    double? plainNaive = plain?.GetValueOrDefault($"{w.Name}|{results.First(r => r.name.StartsWith("naive")).name}");
    foreach (var (name, ms) in results)
    {
        double audioPerSecond = w.Clips * w.Seconds / (ms / 1000);
        string time = perClip ? $"{ms * 1000 / w.Clips:F0} µs per clip" : $"{ms:F1}";
        string plainRatio = plain is null ? "" : plainNaive is double p ? $" {p / ms:F2}x |" : " |";
        string line = $"| {w.Name} ({w.Description}) | {name} | {audioPerSecond:F0} | {time} | {naive / ms:F2}x |{plainRatio} {nwaves / ms:F1}x |";
        report.AppendLine(line);
        Console.WriteLine(line);
    }
}

static Dictionary<string, double> RunPlainProcess(int runs, string workload, string candidate)
{
    string json = Path.Combine(Path.GetTempPath(), $"kapre-bench-{Environment.ProcessId}.json");
    string self = typeof(Workload).Assembly.Location;
    var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(self);
    foreach (var a in new[] { "--plain-process", "--runs", runs.ToString(CultureInfo.InvariantCulture), "--json", json, "--only", workload, "--candidate", candidate })
        start.ArgumentList.Add(a);
    start.RedirectStandardOutput = true; // its table is the parent's to print
    using var child = Process.Start(start)!;
    child.StandardOutput.ReadToEnd();
    child.WaitForExit();
    if (child.ExitCode != 0) throw new InvalidOperationException($"the plain-process baseline failed with exit code {child.ExitCode}");
    var result = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, double>>(File.ReadAllText(json))!;
    File.Delete(json);
    return result;
}

/// <summary>
/// Median time of each candidate over <paramref name="runs"/> rounds, the candidates taking turns within a round: on a
/// shared 2-core machine a slow spell then lands on every candidate alike instead of on one, and the ratios hold.
/// </summary>
static List<(string name, double ms)> TimeInterleaved(int runs, List<(string name, Action run)> candidates)
{
    foreach (var (_, run) in candidates) run(); // warm-up: JIT, libtorch kernels, allocations
    var times = candidates.Select(_ => new List<double>()).ToArray();
    for (int r = 0; r < runs; r++)
        for (int c = 0; c < candidates.Count; c++)
        {
            var sw = Stopwatch.StartNew();
            candidates[c].run();
            times[c].Add(sw.Elapsed.TotalMilliseconds);
        }
    return [.. candidates.Select((c, i) => (c.name, times[i].Order().ElementAt(runs / 2)))];
}

static MelSpectrogramOptions Options(Workload w) => new()
{
    SampleRate = w.Rate, FftLength = w.Fft, WindowLength = w.Win, HopLength = w.Hop, MelBinCount = w.Mels,
    TopDb = 80, BatchSize = Math.Max(64, w.Clips),
};

static Action Pipeline(Workload w, float[][] audio, int? gpu)
{
    var ml = new MLContext(1) { GpuDeviceId = gpu, FallbackToCpu = true };
    var definition = SchemaDefinition.Create(typeof(Row));
    definition[nameof(Row.Audio)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, audio[0].Length);
    definition[nameof(Row.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, w.Rate, NumberDataViewType.Int32);
    var data = ml.Data.LoadFromEnumerable(audio.Select(a => new Row { Audio = a }).ToArray(), definition);
    var output = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", Options(w)).Fit(data).Transform(data);
    var col = output.Schema["Mel"];
    return () =>
    {
        using var cursor = output.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        var v = default(VBuffer<float>);
        while (cursor.MoveNext()) getter(ref v);
    };
}

static Action PredictionEngineRun(Workload w, float[][] audio, int? gpu)
{
    var ml = new MLContext(1) { GpuDeviceId = gpu, FallbackToCpu = true };
    var definition = SchemaDefinition.Create(typeof(Row));
    definition[nameof(Row.Audio)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, audio[0].Length);
    definition[nameof(Row.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, w.Rate, NumberDataViewType.Int32);
    var data = ml.Data.LoadFromEnumerable(new[] { new Row { Audio = audio[0] } }, definition);
    var model = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", Options(w)).Fit(data);
    var engine = ml.Model.CreatePredictionEngine<Row, MelRow>(model, inputSchemaDefinition: definition);
    var row = new Row();
    var result = new MelRow();
    return () =>
    {
        foreach (var a in audio)
        {
            row.Audio = a;
            engine.Predict(row, ref result);
        }
    };
}

static Action Layers(Workload w, float[][] audio, Device device)
{
    var layer = AudioLayers.MelSpectrogram(w.Rate, w.Fft, w.Win, w.Hop, n_mels: w.Mels, to_db: true, top_db: 80, device: device);
    var flat = audio.SelectMany(a => a).ToArray();
    long length = audio[0].Length;
    float[]? output = null;
    return () =>
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // Data moves as the ML.NET transforms move it (TensorCopy): one bulk copy each way, so that on a GPU the timing
        // is of the device's work and two transfers, not of element-by-element host reads.
        var x = from_array(flat).reshape(audio.Length, length);
        if (device.type != DeviceType.CPU) x = x.to(device);
        var y = layer.call(x).cpu();
        output ??= new float[y.numel()];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(y.contiguous().bytes).CopyTo(output);
    };
}

static Action Naive(Workload w, float[][] audio, Device device)
{
    using var fbCpu = Functional.melscale_fbanks(w.Fft / 2 + 1, 0, null, w.Mels, w.Rate);
    Tensor fbT;
    using (NewDisposeScope()) fbT = fbCpu.t().contiguous().to(device).MoveToOuterDisposeScope();
    var window = hann_window(w.Win, device: device);
    var flat = audio.SelectMany(a => a).ToArray();
    long length = audio[0].Length;
    float[]? output = null;
    return () =>
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = from_array(flat).reshape(audio.Length, length); // moved as in Layers
        if (device.type != DeviceType.CPU) x = x.to(device);
        var spec = stft(x, w.Fft, w.Hop, w.Win, window, center: true, pad_mode: PaddingModes.Reflect, return_complex: true).abs().pow(Held.Two);
        var mel = matmul(fbT, spec);
        var db = mel.clamp(min: Held.Amin).log10().mul(Held.Ten);
        var top = db.amax([1, 2], keepdim: true).sub(Held.TopDb);
        var y = db.maximum(top).cpu();
        output ??= new float[y.numel()];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(y.contiguous().bytes).CopyTo(output);
    };
}

static Action PerClip(Workload w, float[][] audio, Func<Workload, float[][], Device, Action> make, Device device)
{
    var runs = audio.Select(a => make(w, [a], device)).ToArray();
    return () => { foreach (var r in runs) r(); };
}

static Action NWavesRun(Workload w, float[][] audio)
{
    // NWaves frames are not centred and its Hann window is symmetric: the closest settings it offers.
    var bank = FilterBanks.Triangular(w.Fft, w.Rate, FilterBanks.MelBands(w.Mels, w.Rate, 0, w.Rate / 2.0));
    var options = new FilterbankOptions
    {
        SamplingRate = w.Rate, FrameSize = w.Win, HopSize = w.Hop, FftSize = w.Fft, FilterBank = bank,
        Window = NWaves.Windows.WindowType.Hann, SpectrumType = NWaves.FeatureExtractors.Options.SpectrumType.Power, NonLinearity = NonLinearityType.None,
    };
    return () =>
    {
        var extractor = new FilterbankExtractor(options);
        foreach (var a in audio)
        {
            var frames = extractor.ComputeFrom(a);
            float max = float.MinValue;
            foreach (var f in frames)
                for (int i = 0; i < f.Length; i++) { f[i] = 10 * MathF.Log10(MathF.Max(f[i], 1e-10f)); max = MathF.Max(max, f[i]); }
            foreach (var f in frames)
                for (int i = 0; i < f.Length; i++) f[i] = MathF.Max(f[i], max - 80);
        }
    };
}

internal sealed record Workload(string Name, string Description, int Clips, double Seconds, int Rate, int Fft, int Win, int Hop, int Mels)
{
    public float[][] Audio(int seed)
    {
        var rng = new Random(seed);
        int n = (int)Math.Round(Seconds * Rate);
        return Enumerable.Range(0, Clips).Select(_ => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 0.5f).ToArray()).ToArray();
    }
}

internal sealed class Row
{
    public float[] Audio { get; set; } = [];
}

internal sealed class MelRow
{
    public float[] Mel { get; set; } = [];
}

/// <summary>The stages of the W1 front end (64 × 1 s at 16 kHz, FFT 512, window 400, hop 160, 64 mels), each alone.</summary>
[BenchmarkDotNet.Attributes.WarmupCount(3)]
[BenchmarkDotNet.Attributes.IterationCount(9)]
[BenchmarkDotNet.Attributes.InProcess]
[BenchmarkDotNet.Attributes.MemoryDiagnoser(false)]
public class LayerBenchmarks
{
    private Tensor _audio = null!, _complex = null!, _power = null!, _mel = null!, _fbT = null!;
    private Stft _stft = null!;
    private MelFilterbank _melLayer = null!;
    private AmplitudeToDecibel _db = null!;
    private MelSpectrogram _fused = null!;

    [BenchmarkDotNet.Attributes.GlobalSetup]
    public void Setup()
    {
        KapreRuntime.Configure(new KapreRuntimeOptions { KeepFreedCpuMemory = true }); // as the app's Main does
        using (var noise = randn(64, 16000)) _audio = noise.mul(Held.Half);
        _stft = AudioLayers.Stft(512, 400, 160, output: Microsoft.ML.Audio.Gpu.Layers.SpectrumType.Complex);
        _melLayer = AudioLayers.MelFilterbank(16000, 512, 64);
        _db = AudioLayers.AmplitudeToDecibel(top_db: 80);
        _fused = AudioLayers.MelSpectrogram(16000, 512, 400, 160, n_mels: 64, to_db: true, top_db: 80);
        using (no_grad())
        {
            _complex = _stft.call(_audio);
            _power = Functional.power(_complex);
            _mel = _melLayer.call(_power);
        }
        using (var transposed = _melLayer.Filterbank.t()) _fbT = transposed.contiguous();
    }

    private static void Run(Func<Tensor> f)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        f();
    }

    [BenchmarkDotNet.Attributes.Benchmark(Description = "STFT (complex)")] public void Stft() => Run(() => _stft.call(_audio));
    [BenchmarkDotNet.Attributes.Benchmark(Description = "power: re² + im²")] public void Power() => Run(() => Functional.power(_complex));
    [BenchmarkDotNet.Attributes.Benchmark(Description = "power: abs().pow(2) (naive)")] public void PowerNaive() => Run(() => { using var magnitude = _complex.abs(); return magnitude.pow(Held.Two); });
    [BenchmarkDotNet.Attributes.Benchmark(Description = "mel filterbank (layer: banded on the CPU)")] public void Mel() => Run(() => _melLayer.call(_power));
    [BenchmarkDotNet.Attributes.Benchmark(Description = "mel: matmul with a contiguous transpose (naive)")] public void MelNaive() => Run(() => matmul(_fbT, _power));
    [BenchmarkDotNet.Attributes.Benchmark(Description = "decibels, top_db 80")] public void Decibel() => Run(() => _db.call(_mel));
    [BenchmarkDotNet.Attributes.Benchmark(Description = "fused MelSpectrogram layer")] public void Fused() => Run(() => _fused.call(_audio));
}

/// <summary>
/// The naive candidates' constants, held for the process: TorchSharp frees an implicitly converted Scalar when a
/// garbage collection meets it mid-call (the project's ScalarLifetimeTests check this code too).
/// </summary>
internal static class Held
{
    public static readonly Scalar Half = 0.5.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();
    public static readonly Scalar Ten = 10.ToScalar();
    public static readonly Scalar TopDb = 80.ToScalar();
    public static readonly Scalar Amin = 1e-10.ToScalar();
}
