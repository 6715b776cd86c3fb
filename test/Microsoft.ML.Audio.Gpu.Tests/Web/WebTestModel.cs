using AudioClassification;
using AudioClassification.Web;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Tests.Training;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>
/// A model made by the console sample's <c>train</c> command on the tiny three-class tone set of the trainer tests, and
/// audio files to ask it about, made once for every web test class.
/// </summary>
internal static class WebTestModel
{
    /// <summary>The tone clips' sample rate (the server resamples to the model's 16 kHz).</summary>
    private const int ClipRate = 8000;

    private static readonly Lazy<(string Model, string[] Files)> Made = new(Make, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The model zip.</summary>
    public static string ModelPath => Made.Value.Model;

    /// <summary>WAV files in several encodings and channel counts, and a long recording; no two alike.</summary>
    public static IReadOnlyList<string> Files => Made.Value.Files;

    /// <summary>The words of <see cref="TaughtModelPath"/>.</summary>
    public static readonly string[] TaughtWords = ["yes", "up", "right"];

    private static readonly Lazy<string> Taught = new(Teach, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>A model taught as the web sample's /train teaches (<see cref="Teacher"/>): the bundled words
    /// <see cref="TaughtWords"/> by the ten teaching voices, and 10 s of quiet noise as _background_.</summary>
    public static string TaughtModelPath => Taught.Value;

    /// <summary>Ten seconds of quiet noise (-55 dBFS) as a 16-bit WAV at 16 kHz: the taught models' background.</summary>
    public static byte[] BackgroundWav() => WavFile.Pcm16(BundledWords.Noise(10 * BundledWords.SampleRate, -55, seed: 3), BundledWords.SampleRate);

    private static string Teach()
    {
        var clips = TaughtWords.SelectMany(word => BundledWords.TeachingVoices.Select(voice =>
                new TeachingClip(word, $"{voice}_{word}.wav", File.ReadAllBytes(BundledWords.File(word, voice)))))
            .Append(new TeachingClip("_background_", "room.wav", BackgroundWav())).ToList();
        using var set = Teacher.Prepare(clips);
        var taught = Teacher.Fit(set, _ => { });
        string path = Path.Combine(Directory.CreateTempSubdirectory("kapre-web-taught-").FullName, "taught.zip");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); } catch (IOException) { } };
        File.WriteAllBytes(path, taught.Zip);
        return path;
    }

    private static (string, string[]) Make()
    {
        var dir = Directory.CreateTempSubdirectory("kapre-web-");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { dir.Delete(recursive: true); } catch (IOException) { } };
        string data = Path.Combine(dir.FullName, "data"), model = Path.Combine(dir.FullName, "model.zip");
        var clips = AudioClassificationTrainerTests.Clips(8, seed: 3);
        for (int i = 0; i < clips.Length; i++)
        {
            var folder = Directory.CreateDirectory(Path.Combine(data, clips[i].Word));
            File.WriteAllBytes(Path.Combine(folder.FullName, $"speaker{i / 3}_{clips[i].Word}.wav"),
                WavBuilder.For(Column(clips[i].Audio, channels: 1), ClipRate, SampleFormat.Pcm16).ToBytes());
        }
        var output = new StringWriter();
        if (Cli.Run(["train", "--data", data, "--model", model, "--epochs", "3", "--device", "cpu"], output) != 0)
            throw new InvalidOperationException("The console sample could not train the web tests' model:\n" + output);

        // Unseen clips, in the encodings a browser or a recorder sends: 16-bit (the page's), 24-bit, float; mono and stereo.
        var unseen = AudioClassificationTrainerTests.Clips(2, seed: 11);
        var formats = new[] { SampleFormat.Pcm16, SampleFormat.Float32, SampleFormat.Pcm24 };
        var files = new List<string>();
        for (int i = 0; i < unseen.Length; i++)
        {
            var format = formats[i % formats.Length];
            int channels = i % 2 + 1;
            string path = Path.Combine(dir.FullName, $"unseen{i}_{unseen[i].Word}_{format}_{channels}ch.wav");
            File.WriteAllBytes(path, WavBuilder.For(Column(unseen[i].Audio, channels), ClipRate, format).ToBytes());
            files.Add(path);
        }
        // A long recording (20 s, 320 KB) with the word at 12.3 s: the model hears its loudest second, as the console
        // sample does; long uploads are cropped, not refused (the size limit bounds them).
        var word = unseen[0].Audio;
        var recording = new float[20 * ClipRate];
        var noise = new Random(5);
        for (int t = 0; t < recording.Length; t++) recording[t] = (float)((noise.NextDouble() * 2 - 1) * 0.01);
        int onset = (int)(12.3 * ClipRate);
        for (int t = 0; t < word.Length; t++) recording[onset + t] += word[t];
        string longFile = Path.Combine(dir.FullName, $"long20s_{unseen[0].Word}.wav");
        File.WriteAllBytes(longFile, WavBuilder.For(Column(recording, channels: 1), ClipRate, SampleFormat.Pcm16).ToBytes());
        files.Add(longFile);
        return (model, [.. files]);
    }

    /// <summary>A [frame, channel] signal: the clip in every channel.</summary>
    private static double[,] Column(float[] audio, int channels)
    {
        var signal = new double[audio.Length, channels];
        for (int t = 0; t < audio.Length; t++)
            for (int c = 0; c < channels; c++) signal[t, c] = audio[t];
        return signal;
    }
}
