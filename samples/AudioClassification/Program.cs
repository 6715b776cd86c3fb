// Kapre.MLNet sample. This stage of the project shows the on-device front end: it decodes a WAV file, computes its
// log-mel spectrogram with the TorchSharp layers on the GPU when there is one (CPU otherwise), reports throughput and
// writes the spectrogram as a PNG. Training an audio classifier arrives with the trainer.
//
//   dotnet run --project samples/AudioClassification [-- <file.wav>] [--out mel.png]
using System.Diagnostics;
using AudioClassification;
using Microsoft.ML.Audio.Gpu.Layers;
using NAudio.Wave;
using TorchSharp;
using static TorchSharp.torch;

string input = Path.Combine(AppContext.BaseDirectory, "Data", "speech.wav");
string output = "mel.png";
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--out" && i + 1 < args.Length) output = args[++i];
    else if (args[i] is "-h" or "--help")
    {
        Console.WriteLine("usage: AudioClassification [file.wav] [--out mel.png]");
        return 0;
    }
    else input = args[i];
}

float[] samples;
int sampleRate;
try
{
    using var reader = new WaveFileReader(input);
    var provider = reader.ToSampleProvider();
    sampleRate = provider.WaveFormat.SampleRate;
    int channels = provider.WaveFormat.Channels;
    var interleaved = new List<float>();
    var buffer = new float[sampleRate * channels];
    int n;
    while ((n = provider.Read(buffer.AsSpan())) > 0) interleaved.AddRange(buffer.AsSpan(0, n));
    samples = new float[interleaved.Count / channels];
    for (int t = 0; t < samples.Length; t++)
    {
        float sum = 0;
        for (int c = 0; c < channels; c++) sum += interleaved[t * channels + c];
        samples[t] = sum / channels;
    }
}
catch (Exception e) when (e is IOException or FormatException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"Cannot read '{input}': {e.Message}");
    return 1;
}

var device = cuda.is_available() ? CUDA : CPU;
Console.WriteLine($"Input:  {Path.GetFileName(input)}, {samples.Length} samples at {sampleRate} Hz ({samples.Length / (double)sampleRate:F2} s)");
Console.WriteLine($"Device: {device.type}{(device.type == DeviceType.CUDA ? "" : " (no CUDA device found)")}, TorchSharp {typeof(torch).Assembly.GetName().Version}");

// librosa-style log-mel front end: 46 ms windows, 5.8 ms hop, 80 Slaney mel bands, 80 dB dynamic range.
long nFft = sampleRate >= 32000 ? 2048 : 1024;
using var melspec = AudioLayers.MelSpectrogram(sampleRate, n_fft: nFft, hop_length: nFft / 8, n_mels: 80,
    mel_scale: MelScale.Slaney, norm: MelNorm.Slaney, to_db: true, top_db: 80, device: device);
using var wave = tensor(samples, device: device);

using (var warm = melspec.call(wave)) { }
const int Runs = 20;
var sw = Stopwatch.StartNew();
for (int r = 0; r < Runs; r++)
{
    using var y = melspec.call(wave);
    if (device.type == DeviceType.CUDA) cuda.synchronize();
}
sw.Stop();
using var logMel = melspec.call(wave).cpu();
int rows = (int)logMel.shape[0], cols = (int)logMel.shape[1];
float[] values = logMel.data<float>().ToArray();
double msPerCall = sw.Elapsed.TotalMilliseconds / Runs;
Console.WriteLine($"Log-mel: [{rows} mels x {cols} frames], {values.Min():F1} to {values.Max():F1} dB; " +
                  $"{msPerCall:F2} ms per call = {samples.Length / (double)sampleRate / (msPerCall / 1000):F0} audio-seconds per second");

// A coarse look in the terminal: 16 bands x 64 columns, darker = quieter.
const string Shades = " .:-=+*#%@";
Console.WriteLine();
for (int band = 15; band >= 0; band--)
{
    var line = new char[64];
    for (int x = 0; x < 64; x++)
    {
        int r0 = band * rows / 16, c0 = x * cols / 64;
        float v = values[r0 * cols + c0];
        int s = (int)Math.Clamp((v - (values.Max() - 80)) / 80 * (Shades.Length - 1), 0, Shades.Length - 1);
        line[x] = Shades[s];
    }
    Console.WriteLine("  |" + new string(line));
}
Console.WriteLine("  +" + new string('-', 64) + "> time");

PngWriter.WriteSpectrogram(output, values, rows, cols);
Console.WriteLine($"\nWrote {Path.GetFullPath(output)} ({cols} x {rows * 2} px).");
return 0;
