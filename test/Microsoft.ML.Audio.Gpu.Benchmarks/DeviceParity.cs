// Parity of every audio transform on a device against the same transform on the CPU (issue 18's device check):
//
//   dotnet Microsoft.ML.Audio.Gpu.Benchmarks.dll --parity --gpu 0 [--out FILE] [--dump DIR]
//
// Each transform runs through ML.NET on the same rows with MLContext.GpuDeviceId unset and set (with TF32 off, and again
// with libtorch's defaults); the table gives the largest difference relative to each row's largest value (and in dB for
// the decibel outputs). --dump writes the
// audio and the device's log-mel rows as raw float32 with a JSON description, for build/parity-torchaudio.py to compare
// with torchaudio on the same device. Without CUDA the "device" run is the CPU again and the table says so.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

internal static class DeviceParity
{
    private const int Rate = 16000, Clips = 16, Samples = 16000;
    private const int Fft = 512, Win = 400, Hop = 160, Mels = 64;

    public static int Run(string[] args)
    {
        int? gpu = null;
        string? outPath = null, dump = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--gpu") gpu = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--out") outPath = args[++i];
            else if (args[i] == "--dump") dump = args[++i];
        }
        var audio = new Workload("P", "parity", Clips, Samples / (double)Rate, Rate, Fft, Win, Hop, Mels).Audio(seed: 7);
        var steps = new (string name, bool decibels, Func<MLContext, IEstimator<ITransformer>> make)[]
        {
            ("GpuStft (power)", false, ml => ml.Transforms.Audio.GpuStft("Out", "Audio", new GpuStftOptions { FftLength = Fft, WindowLength = Win, HopLength = Hop })),
            ("GpuStft → GpuMel", false, ml => ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = Fft, WindowLength = Win, HopLength = Hop })
                .Append(ml.Transforms.Audio.GpuMel("Out", "Spec", new GpuMelOptions { MelBinCount = Mels }))),
            ("GpuStft → GpuMel → GpuDecibel", true, ml => ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = Fft, WindowLength = Win, HopLength = Hop })
                .Append(ml.Transforms.Audio.GpuMel("Mel", "Spec", new GpuMelOptions { MelBinCount = Mels }))
                .Append(ml.Transforms.Audio.GpuDecibel("Out", "Mel"))),
            ("MelSpectrogramGpu (dB)", true, ml => ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", LogMel)),
            ("MfccGpu (40 of 64 bands)", false, ml => ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { FftLength = Fft, WindowLength = Win, HopLength = Hop, MelBinCount = Mels })),
            ("GpuResample 16 → 8 kHz", false, ml => ml.Transforms.Audio.GpuResample("Out", "Audio", new GpuResampleOptions { SampleRate = 8000 })),
            ("SpeechEmbedding (mean and max)", false, ml => ml.Transforms.Audio.SpeechEmbedding("Out", "Audio")),
        };

        // libtorch runs cuDNN convolutions in TF32 by default on Ampere and later GPUs (matrix products in float32): the
        // parity is measured with TF32 off, so that both sides compute in float32, and again with libtorch's defaults,
        // which is what an application gets unless it sets torch.backends.cudnn.allow_tf32 = false.
        bool cuda = TorchSharp.torch.cuda.is_available();
        (bool conv, bool matmul) defaults = cuda ? (TorchSharp.torch.backends.cudnn.allow_tf32, TorchSharp.torch.backends.cuda.matmul.allow_tf32) : (false, false);
        void Tf32(bool conv, bool matmul)
        {
            if (!cuda) return;
            TorchSharp.torch.backends.cudnn.allow_tf32 = conv;
            TorchSharp.torch.backends.cuda.matmul.allow_tf32 = matmul;
        }

        var report = new StringBuilder();
        string device = "cpu";
        report.AppendLine("| transform | device | rows | max abs. difference / row max, TF32 off | the same with libtorch's defaults | max abs. difference (dB outputs), TF32 off |");
        report.AppendLine("| --- | --- | ---: | ---: | ---: | ---: |");
        float[][]? deviceLogMel = null;
        foreach (var (name, decibels, make) in steps)
        {
            var (onCpu, _) = Transform(audio, null, make);
            Tf32(false, false);
            var (onDevice, usedDevice) = Transform(audio, gpu, make);
            Tf32(defaults.conv, defaults.matmul);
            var (onDeviceDefaults, _) = Transform(audio, gpu, make);
            device = usedDevice;
            var (rel, abs) = Differences(onDevice, onCpu);
            var (relDefaults, _) = Differences(onDeviceDefaults, onCpu);
            if (name.StartsWith("MelSpectrogramGpu", StringComparison.Ordinal)) deviceLogMel = onDevice;
            string line = $"| {name} | {usedDevice} | {onCpu.Length} | {rel:G3} | {relDefaults:G3} | {(decibels ? abs.ToString("G3", CultureInfo.InvariantCulture) + " dB" : "")} |";
            report.AppendLine(line);
            Console.WriteLine(line);
        }
        report.AppendLine();
        report.AppendLine($"libtorch's defaults here: cuDNN TF32 {defaults.conv}, matmul TF32 {defaults.matmul}.");
        report.AppendLine();
        report.AppendLine(device == "cpu"
            ? "The device runs fell back to the CPU (no CUDA seen by TorchSharp): these are CPU-against-CPU figures."
            : $"Each row: the transform with MLContext.GpuDeviceId = {gpu} ({device}) against the CPU, {Clips} clips of {Samples} samples of noise at {Rate} Hz.");
        if (outPath is not null) File.WriteAllText(outPath, report.ToString());

        if (dump is not null && deviceLogMel is not null)
        {
            Directory.CreateDirectory(dump);
            WriteFloats(Path.Combine(dump, "audio.f32"), audio);
            WriteFloats(Path.Combine(dump, "logmel.f32"), deviceLogMel);
            File.WriteAllText(Path.Combine(dump, "parity.json"), JsonSerializer.Serialize(new
            {
                device, clips = Clips, samples = Samples, sample_rate = Rate, n_fft = Fft, win_length = Win, hop_length = Hop,
                n_mels = Mels, top_db = 80.0, mel_scale = "htk", norm = (string?)null, center = true, pad_mode = "reflect", power = 2.0,
                frames = deviceLogMel[0].Length / Mels,
            }));
        }
        return 0;
    }

    /// <summary>Largest difference per row's largest value, and largest absolute difference, of two runs.</summary>
    private static (double rel, double abs) Differences(float[][] got, float[][] expected)
    {
        double rel = 0, abs = 0;
        for (int r = 0; r < expected.Length; r++)
        {
            double peak = expected[r].Max(v => Math.Abs(v));
            for (int k = 0; k < expected[r].Length; k++)
            {
                double diff = Math.Abs(got[r][k] - expected[r][k]);
                abs = Math.Max(abs, diff);
                if (peak > 0) rel = Math.Max(rel, diff / peak);
            }
        }
        return (rel, abs);
    }

    private static readonly MelSpectrogramOptions LogMel = new() { FftLength = Fft, WindowLength = Win, HopLength = Hop, MelBinCount = Mels, TopDb = 80 };

    private static (float[][] rows, string device) Transform(float[][] audio, int? gpu, Func<MLContext, IEstimator<ITransformer>> make)
    {
        var ml = new MLContext(1) { GpuDeviceId = gpu, FallbackToCpu = true };
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Audio)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, audio[0].Length);
        definition[nameof(Row.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, Rate, NumberDataViewType.Int32);
        var data = ml.Data.LoadFromEnumerable(audio.Select(a => new Row { Audio = a }).ToArray(), definition);
        var model = make(ml).Fit(data);
        var output = model.Transform(data);
        var column = output.Schema["Out"];
        var rows = new List<float[]>();
        using (var cursor = output.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            var v = default(VBuffer<float>);
            while (cursor.MoveNext())
            {
                getter(ref v);
                rows.Add(v.DenseValues().ToArray());
            }
        }
        var last = model is IEnumerable<ITransformer> chain ? chain.Last() : model;
        string device = last is GpuAudioTransformerBase t ? t.Device.ToString() : "?";
        (model as IDisposable)?.Dispose();
        return ([.. rows], device);
    }

    private static void WriteFloats(string path, float[][] rows)
    {
        using var file = File.Create(path);
        foreach (var row in rows) file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(row.AsSpan()));
    }
}
