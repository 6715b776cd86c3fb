using System.Globalization;
using System.Text.RegularExpressions;
using AudioClassification;
using Microsoft.ML.Audio.Gpu.Tests.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>
/// The sample's <c>listen</c> command end to end: a model trained by the sample's <c>train</c> on one-second clips of
/// three synthetic words and quiet noise hears a 10 s recording (raw 16-bit PCM, as arecord or sox would send it) and
/// prints each word at its place.
/// </summary>
[TestClass]
public sealed class SampleListenTests
{
    private const int Rate = 16000;
    private static DirectoryInfo _dir = null!;
    private static string Model => Path.Combine(_dir.FullName, "model.zip");
    private static string Recording => Path.Combine(_dir.FullName, "recording.raw");

    /// <summary>(word, onset in seconds) in the recording.</summary>
    private static readonly (string word, double onset)[] Words = [("high", 1.5), ("low", 4.0), ("rise", 6.5), ("high", 8.5)];

    private static float[] Noise(int n, Random rng) => [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * 0.02))];

    /// <summary>Adds a word (a low tone, a high tone or a rising chirp under a half-sine envelope) at <paramref name="onset"/>.</summary>
    private static void AddWord(float[] x, string word, int onset, int length, double pitch, double gain)
    {
        double f0 = word switch { "low" => 400, "high" => 2200, _ => 600 } * pitch;
        for (int u = 0; u < length && onset + u < x.Length; u++)
        {
            double f = word == "rise" ? f0 + 2500 * u / (double)length : f0;
            x[onset + u] += (float)(gain * Math.Sin(2 * Math.PI * f * u / Rate) * Math.Sin(Math.PI * u / length));
        }
    }

    [ClassInitialize]
    public static void TrainTheSample(TestContext _)
    {
        _dir = Directory.CreateTempSubdirectory("kapre-listen-");
        var rng = new Random(11);
        string data = Path.Combine(_dir.FullName, "data");
        foreach (var word in new[] { "high", "low", "rise", "_quiet_" })
        {
            var folder = Directory.CreateDirectory(Path.Combine(data, word));
            for (int i = 0; i < 10; i++)
            {
                var clip = Noise(Rate, rng);
                if (word != "_quiet_")
                    AddWord(clip, word, rng.Next(0, Rate / 2), rng.Next(1600, 3200), 0.85 + 0.3 * rng.NextDouble(), 0.2 + 0.4 * rng.NextDouble());
                var signal = new double[clip.Length, 1];
                for (int t = 0; t < clip.Length; t++) signal[t, 0] = clip[t];
                File.WriteAllBytes(Path.Combine(folder.FullName, $"take{i}_{word}.wav"), WavBuilder.For(signal, Rate, SampleFormat.Pcm16).ToBytes());
            }
        }
        var output = new StringWriter();
        int code = Cli.Run(["train", "--data", data, "--model", Model, "--epochs", "15", "--device", "cpu", "--backbone", "cnn", "--size", "large"], output);
        Assert.AreEqual(0, code, output.ToString());

        var recording = Noise(10 * Rate, new Random(12));
        foreach (var (word, onset) in Words) AddWord(recording, word, (int)(onset * Rate), Rate / 5, 1.0, 0.4);
        using var file = File.Create(Recording);
        foreach (var v in recording) file.Write(BitConverter.GetBytes((short)Math.Round(Math.Clamp(v, -1f, 1f) * 32767)));
    }

    [ClassCleanup]
    public static void Delete() => _dir.Delete(recursive: true);

    [TestMethod]
    public void Listen_PrintsEachWordOfARecording_AtItsPlace()
    {
        var output = new StringWriter();
        int code = Cli.Run(["listen", "--model", Model, "--input", Recording], output);
        string text = output.ToString();
        Assert.AreEqual(0, code, text);
        StringAssert.Contains(text, "Listening for ");
        Assert.DoesNotContain("_quiet_", text.Split('\n')[0], "the quiet class is not listened for");
        var heard = Regex.Matches(text, @"^\s*([0-9.]+) -\s*([0-9.]+) s  (\S+)", RegexOptions.Multiline)
            .Select(m => (start: double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), end: double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), word: m.Groups[3].Value))
            .ToList();
        CollectionAssert.AreEqual(Words.Select(w => w.word).ToArray(), heard.Select(h => h.word).ToArray(), text);
        for (int i = 0; i < Words.Length; i++)
        {
            double centre = Words[i].onset + 0.1;
            Assert.IsTrue(heard[i].start <= centre && centre <= heard[i].end, $"word {i} centred at {centre} s: {text}");
        }
        StringAssert.Contains(text, "4 word(s) in 10.0 s of audio");
    }

    [TestMethod]
    public void Listen_RefusesBadOptions()
    {
        foreach (var args in new[]
        {
            new[] { "listen", "--model", Model, "--hop", "0" },
            ["listen", "--model", Model, "--threshold", "1.5"],
            ["listen", "--model", Model, "--window", "1"],
            ["listen"],
        })
        {
            var output = new StringWriter();
            Assert.AreEqual(2, Cli.Run(args, output), string.Join(" ", args) + "\n" + output);
        }
        var ignored = new StringWriter();
        Assert.AreEqual(1, Cli.Run(["listen", "--model", Model, "--input", Recording, "--ignore", "hgih"], ignored), ignored.ToString());
        StringAssert.Contains(ignored.ToString(), "'hgih', which is not a class");
    }
}
