// Kapre.MLNet sample. At this stage of the project it shows the audio front end as an ML.NET pipeline:
// LoadAudio decodes and resamples a WAV file, MelSpectrogramGpu computes its log-mel spectrogram with TorchSharp (on
// CUDA device N with --gpu N, else on the CPU), the fitted pipeline is saved to a model zip, loaded back, and used
// through a PredictionEngine; the spectrogram is drawn in the terminal and written as a PNG. Training an audio
// classifier on top arrives with the trainer.
//
//   dotnet run --project samples/AudioClassification -c Release [-- <file.wav>] [--out mel.png] [--gpu 0]
using System.Diagnostics;
using AudioClassification;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

string input = Path.Combine(AppContext.BaseDirectory, "Data", "speech.wav");
string output = "mel.png";
int? gpu = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--out" && i + 1 < args.Length) output = args[++i];
    else if (args[i] == "--gpu" && i + 1 < args.Length && int.TryParse(args[++i], out int id)) gpu = id;
    else if (args[i] is "-h" or "--help")
    {
        Console.WriteLine("usage: AudioClassification [file.wav] [--out mel.png] [--gpu N]");
        return 0;
    }
    else input = Path.GetFullPath(args[i]);
}

var ml = new MLContext(seed: 1) { GpuDeviceId = gpu, FallbackToCpu = true };
ml.Log += (_, e) => { if (e.Message.Contains("running on") || e.Message.Contains("falling back")) Console.WriteLine($"  [ML.NET] {e.Message}"); };

const int SampleRate = 16000;
const double Seconds = 3.0;
var files = ml.Data.LoadFromEnumerable(new[] { new AudioFile { Path = input } });
var pipeline = ml.Transforms.Audio.LoadAudio("Audio", nameof(AudioFile.Path), new LoadAudioOptions { SampleRate = SampleRate, DurationSeconds = Seconds })
    .Append(ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio", new MelSpectrogramOptions
    {
        // 25 ms windows, 10 ms hop, 64 Slaney mel bands up to 8 kHz, 80 dB of dynamic range.
        FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 64, MelScale = MelScale.Slaney, MelNorm = MelNorm.Slaney, TopDb = 80,
    }));

Console.WriteLine($"Input:  {input}");
var model = pipeline.Fit(files);
var column = model.GetOutputSchema(files.Schema)["LogMel"];
var dims = ((VectorDataViewType)column.Type).Dimensions;
int rows = dims[0], cols = dims[1];
Console.WriteLine($"Output: column 'LogMel', vector of Single [{rows} mels x {cols} frames] ({Seconds} s at {SampleRate} Hz)");

string zip = Path.Combine(Path.GetTempPath(), "kapre-mlnet-sample-frontend.zip");
ml.Model.Save(model, files.Schema, zip);
Console.WriteLine($"Saved the fitted pipeline to {zip} ({new FileInfo(zip).Length / 1024.0:F0} KiB)");

// A new MLContext loads it back, as another process would, and predicts through a PredictionEngine.
var ml2 = new MLContext(seed: 2) { GpuDeviceId = gpu, FallbackToCpu = true };
var loaded = ml2.Model.Load(zip, out _);
using var engine = ml2.Model.CreatePredictionEngine<AudioFile, FrontEndOutput>(loaded);
float[] values;
try
{
    values = engine.Predict(new AudioFile { Path = input }).LogMel;
}
catch (AudioDecodeException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
var sw = Stopwatch.StartNew();
const int Runs = 20;
for (int r = 0; r < Runs; r++) engine.Predict(new AudioFile { Path = input });
sw.Stop();
double ms = sw.Elapsed.TotalMilliseconds / Runs;
Console.WriteLine($"PredictionEngine on the loaded model: {ms:F1} ms per file (decode + resample + log-mel), " +
                  $"{values.Min():F1} to {values.Max():F1} dB");

// A coarse look in the terminal: 16 bands x 64 columns, darker = quieter.
const string Shades = " .:-=+*#%@";
float top = values.Max();
Console.WriteLine();
for (int band = 15; band >= 0; band--)
{
    var line = new char[64];
    for (int x = 0; x < 64; x++)
    {
        float v = values[band * rows / 16 * cols + x * cols / 64];
        line[x] = Shades[(int)Math.Clamp((v - (top - 80)) / 80 * (Shades.Length - 1), 0, Shades.Length - 1)];
    }
    Console.WriteLine("  |" + new string(line));
}
Console.WriteLine("  +" + new string('-', 64) + "> time");

PngWriter.WriteSpectrogram(output, values, rows, cols);
Console.WriteLine($"\nWrote {Path.GetFullPath(output)} ({cols} x {rows * 2} px).");
return 0;

internal sealed class AudioFile
{
    public string Path { get; set; } = "";
}

internal sealed class FrontEndOutput
{
    public float[] LogMel { get; set; } = [];
}
