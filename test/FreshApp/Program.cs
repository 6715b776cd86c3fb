// A new user's console app, made by test/FreshApp/check.sh outside the repository: Microsoft.ML as
// `dotnet add package Microsoft.ML` gives it, the three Kapre.MLNet packages from a folder source, and the CPU libtorch.
// It trains an audio classifier on synthetic tones through the public API, saves the model, loads it into a new
// MLContext and predicts; the exit code says whether the loaded model gives the trained model's scores and labels.
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

string folder = args.Length == 1 ? Path.GetFullPath(args[0]) : throw new ArgumentException("usage: FreshApp DATA_FOLDER");
Directory.CreateDirectory(folder);

// Two classes of 1 s clips at 16 kHz: a low tone (300-500 Hz) and a high one (2-3 kHz), in white noise at about 10 dB SNR.
var random = new Random(1);
var train = new List<Clip>();
var test = new List<Clip>();
for (int i = 0; i < 48; i++)
{
    string word = i % 2 == 0 ? "low" : "high";
    double hz = word == "low" ? 300 + 200 * random.NextDouble() : 2000 + 1000 * random.NextDouble();
    string path = Path.Combine(folder, $"{word}-{i:D2}.wav");
    WriteWav(path, Tone(hz, random));
    (i < 32 ? train : test).Add(new Clip { Path = path, Word = word });
}

var ml = new MLContext(seed: 1);
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "Word")
    .Append(ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { SampleRate = 16000, DurationSeconds = 1.0 }))
    .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", new MelSpectrogramOptions { HopLength = 160, MelBinCount = 40 }))
    .Append(ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions { Epochs = 6, BatchSize = 8 }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedWord", "PredictedLabel"));
var trainView = ml.Data.LoadFromEnumerable(train);
var model = pipeline.Fit(trainView);
var scored = model.Transform(ml.Data.LoadFromEnumerable(test));
var metrics = ml.MulticlassClassification.Evaluate(scored);
Console.WriteLine($"trained: held-out accuracy {metrics.MicroAccuracy:P1} on {test.Count} clips");

string zip = Path.Combine(folder, "model.zip");
ml.Model.Save(model, trainView.Schema, zip);
Console.WriteLine($"saved: {zip} ({new FileInfo(zip).Length / 1024.0:F0} KiB)");

// A new context, as another process would have: the model's transforms and trainer come back from the zip.
var ml2 = new MLContext(seed: 2);
var loaded = ml2.Model.Load(zip, out _);
using var engine = ml2.Model.CreatePredictionEngine<Clip, Prediction>(loaded);
var trained = scored.GetColumn<float[]>("Score").ToArray();
double largest = 0;
int same = 0, right = 0;
for (int i = 0; i < test.Count; i++)
{
    var p = engine.Predict(test[i]);
    largest = Math.Max(largest, p.Score.Zip(trained[i], (a, b) => Math.Abs(a - b)).Max());
    if (p.PredictedWord == test[i].Word) right++;
    if (i < 3) Console.WriteLine($"predicted: {Path.GetFileName(test[i].Path)} -> {p.PredictedWord} ({p.Score.Max():P0})");
    same += p.PredictedWord == (trained[i][0] >= trained[i][1] ? "low" : "high") ? 1 : 0;   // key 1 is "low": it came first
}
Console.WriteLine($"loaded: {right}/{test.Count} right; largest score difference from the trained model {largest:E1}; same label {same}/{test.Count}");
// The saved model must be the trained one (float32 scores through the same network: equal to rounding), and it must
// have learnt two tones this far apart.
bool ok = largest <= 1e-5 && same == test.Count && metrics.MicroAccuracy >= 0.9;
Console.WriteLine(ok ? "FRESH APP OK" : "FRESH APP FAILED");
return ok ? 0 : 1;

static float[] Tone(double hz, Random random)
{
    var samples = new float[16000];
    for (int n = 0; n < samples.Length; n++)
        samples[n] = (float)(0.3 * Math.Sin(2 * Math.PI * hz * n / 16000) + 0.1 * (2 * random.NextDouble() - 1));
    return samples;
}

static void WriteWav(string path, float[] samples)
{
    using var writer = new BinaryWriter(File.Create(path));
    writer.Write("RIFF"u8); writer.Write(36 + 2 * samples.Length); writer.Write("WAVEfmt "u8);
    writer.Write(16); writer.Write((short)1); writer.Write((short)1); writer.Write(16000); writer.Write(32000);
    writer.Write((short)2); writer.Write((short)16); writer.Write("data"u8); writer.Write(2 * samples.Length);
    foreach (float s in samples) writer.Write((short)Math.Round(Math.Clamp(s, -1f, 1f) * 32767));
}

public sealed class Clip
{
    public string Path { get; set; } = "";
    public string Word { get; set; } = "";
}

public sealed class Prediction
{
    public string PredictedWord { get; set; } = "";
    public float[] Score { get; set; } = [];
}
