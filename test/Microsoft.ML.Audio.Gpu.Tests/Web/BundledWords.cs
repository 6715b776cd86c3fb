using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>
/// The console sample's bundled words (samples/AudioClassification/Data/words: 10 words by 40 synthetic espeak-ng
/// voices, 8 kHz) as teach-mode examples and as live recordings with known words: the web tests' data and the web
/// measurements' (the benchmarks app links this file). Everything here is made from those files and seeded noise.
/// </summary>
internal static class BundledWords
{
    /// <summary>The model's rate: recordings are made at it.</summary>
    public const int SampleRate = 16000;

    /// <summary>The folder of the words, copied next to the console sample's assembly.</summary>
    public static string Folder => AudioClassification.Cli.BundledData;

    /// <summary>The voices that speak every word (40), in a fixed shuffled order, so that the first ten (which teach) mix
    /// the accents and synthesisers rather than being ten Caribbean and British voices.</summary>
    public static IReadOnlyList<string> Voices { get; } = FindVoices();

    /// <summary>The voices that teach: the first ten.</summary>
    public static IReadOnlyList<string> TeachingVoices => [.. Voices.Take(10)];

    /// <summary>The voices no model of these tests is taught: the other thirty.</summary>
    public static IReadOnlyList<string> UnseenVoices => [.. Voices.Skip(10)];

    private static string[] FindVoices()
    {
        var words = Directory.GetDirectories(Folder).Select(Path.GetFileName).ToArray();
        var voices = words.Select(w => Directory.GetFiles(Path.Combine(Folder, w!), $"*_{w}.wav").Select(f => Path.GetFileName(f)[..^($"_{w}.wav".Length)]))
            .Aggregate((a, b) => a.Intersect(b)).Order(StringComparer.Ordinal);
        // A hash of the name, not string.GetHashCode (randomised per process): the same order in every run.
        return [.. voices.OrderBy(v => v.Aggregate(17, (h, c) => unchecked(h * 31 + c)))];
    }

    /// <summary>The file of <paramref name="word"/> spoken by <paramref name="voice"/>.</summary>
    public static string File(string word, string voice) => Path.Combine(Folder, word, $"{voice}_{word}.wav");

    /// <summary>A file decoded to mono at <see cref="SampleRate"/> (the library's band-limited resampler).</summary>
    public static float[] Decode(string path) => AudioDecoder.Decode(path, new AudioDecodeOptions { SampleRate = SampleRate, Mono = true }).Samples;

    /// <summary>Seeded white noise at <paramref name="dbfs"/> RMS: the stand-in for a quiet room.</summary>
    public static float[] Noise(int samples, double dbfs, int seed)
    {
        var random = new Random(seed);
        double amplitude = Math.Pow(10, dbfs / 20) * Math.Sqrt(3); // uniform noise in [-a, a] has RMS a / sqrt(3)
        var noise = new float[samples];
        for (int i = 0; i < samples; i++) noise[i] = (float)((random.NextDouble() * 2 - 1) * amplitude);
        return noise;
    }

    /// <summary>A word placed in a recording: where its sound starts and ends (seconds), as its clip's loud part shows.</summary>
    public sealed record Word(string Label, string Voice, double Start, double End);

    /// <summary>
    /// A recording: <paramref name="lead"/> seconds of noise, then each word with a gap of noise from
    /// <paramref name="minGap"/> to <paramref name="maxGap"/> seconds (seeded) before the next, and
    /// <paramref name="tail"/> seconds after the last. The truth is where each word's sound is: its clip's frames within
    /// 30 dB of the clip's loudest (the clips have quiet margins).
    /// </summary>
    public static (float[] Audio, List<Word> Words) Recording(IEnumerable<(string Word, string Voice)> words, int seed,
        double lead = 1.0, double minGap = 1.5, double maxGap = 2.5, double tail = 2.0, double noiseDb = -55)
    {
        var random = new Random(seed);
        var audio = new List<float>(Noise((int)(lead * SampleRate), noiseDb, seed));
        var truth = new List<Word>();
        int n = 0;
        foreach (var (word, voice) in words)
        {
            if (n++ > 0) audio.AddRange(Noise((int)((minGap + random.NextDouble() * (maxGap - minGap)) * SampleRate), noiseDb, seed + n));
            var clip = Decode(File(word, voice));
            var (first, last) = Extent(clip);
            truth.Add(new Word(word, voice, (audio.Count + first) / (double)SampleRate, (audio.Count + last) / (double)SampleRate));
            var background = Noise(clip.Length, noiseDb, seed + 1000 + n);
            for (int i = 0; i < clip.Length; i++) audio.Add(clip[i] + background[i]);
        }
        audio.AddRange(Noise((int)(tail * SampleRate), noiseDb, seed - 1));
        return ([.. audio], truth);
    }

    /// <summary>The first and last sample of the 10 ms frames within 30 dB of the clip's loudest frame.</summary>
    private static (int First, int Last) Extent(float[] clip)
    {
        const int Frame = SampleRate / 100;
        int frames = clip.Length / Frame;
        var levels = new double[frames];
        for (int f = 0; f < frames; f++)
        {
            double energy = 0;
            for (int t = f * Frame; t < (f + 1) * Frame; t++) energy += (double)clip[t] * clip[t];
            levels[f] = 10 * Math.Log10(energy / Frame + 1e-12);
        }
        double threshold = levels.Max() - 30;
        return (Array.FindIndex(levels, l => l >= threshold) * Frame, (Array.FindLastIndex(levels, l => l >= threshold) + 1) * Frame);
    }

    /// <summary>16-bit little-endian PCM of samples in [-1, 1], as the page sends it.</summary>
    public static byte[] Pcm16(float[] samples)
    {
        var bytes = new byte[2 * samples.Length];
        for (int i = 0; i < samples.Length; i++)
        {
            float s = Math.Clamp(samples[i], -1f, 1f);
            System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(2 * i), (short)(s < 0 ? s * 32768 : s * 32767));
        }
        return bytes;
    }
}
