using System.Globalization;
using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>
/// Real-world files (206 FLAC and an AIFF of Sonic Pi's samples, 30 MP3 and 30 Ogg Vorbis piano notes), fetched by
/// build/fetch-audio-samples.sh (the test build runs it): each decodes to the channels, rate and exact frame count of
/// an independent decoder, with the same loudness per channel (Fixtures/formats/real-files.sh wrote the figures).
/// Every FLAC file carries an MD5 signature of its samples, which the decoder checks: those are bit-exact.
/// </summary>
[TestClass]
public sealed class RealFileTests
{
    /// <summary>SoX prints RMS levels to 0.01 dB (half of it is rounding); the lossy decoders agree with the reference
    /// decoders to 60 dB or better (FormatFixtureTests), which moves an RMS level by under 0.001 dB.</summary>
    private const double RmsDbTolerance = 0.006;

    private static string SamplesDir => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "artifacts", "audio-samples"));

    private static readonly Lazy<string[][]> Rows = new(() => File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Fixtures", "formats", "real-files.tsv"))
        .Skip(1).Select(l => l.Split('\t')).ToArray());

    public static IEnumerable<object[]> Formats => [["flac"], ["aiff"], ["mp3"], ["ogg"]];

    [TestMethod]
    [DynamicData(nameof(Formats))]
    public void RealFiles_DecodeToTheReferenceDecodersFrameCountAndLoudness(string extension)
    {
        if (!File.Exists(Path.Combine(SamplesDir, ".fetched")))
            Assert.Fail($"{SamplesDir} is missing: run build/fetch-audio-samples.sh (the test build does)");
        var rows = Rows.Value.Where(r => r[0].EndsWith("." + extension, StringComparison.Ordinal)).ToArray();
        Assert.IsNotEmpty(rows);
        var failures = new List<string>();
        double audioSeconds = 0;
        foreach (var row in rows)
        {
            string file = row[0];
            int channels = int.Parse(row[2], CultureInfo.InvariantCulture), rate = int.Parse(row[3], CultureInfo.InvariantCulture);
            long frames = long.Parse(row[4], CultureInfo.InvariantCulture);
            double[] rmsDb = row[5].Split(',').Select(v => v == "-inf" ? double.NegativeInfinity : double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            AudioBuffer audio;
            try
            {
                audio = AudioDecoder.Decode(Path.Combine(SamplesDir, file), new AudioDecodeOptions { Mono = false });
            }
            catch (AudioDecodeException e)
            {
                failures.Add($"{file}: {e.Reason}");
                continue;
            }
            audioSeconds += audio.DurationSeconds;
            if (audio.Channels != channels || audio.SampleRate != rate || audio.Frames != frames)
            {
                failures.Add($"{file}: {audio.Channels} ch, {audio.SampleRate} Hz, {audio.Frames} frames; the reference has {channels}, {rate}, {frames}");
                continue;
            }
            for (int c = 0; c < channels; c++)
            {
                double sum = 0;
                foreach (float x in audio.GetChannel(c))
                    sum += (double)x * x;
                double db = 10 * Math.Log10(sum / frames);
                if (!(Math.Abs(db - rmsDb[c]) <= RmsDbTolerance || (double.IsNegativeInfinity(rmsDb[c]) && sum == 0)))
                    failures.Add(FormattableString.Invariant($"{file} channel {c}: RMS {db:F4} dB, the reference {rmsDb[c]:F2} dB"));
            }
        }
        Console.WriteLine(FormattableString.Invariant($"{rows.Length} {extension} files, {audioSeconds:F1} s of audio: {failures.Count} failures"));
        Assert.IsEmpty(failures, string.Join("; ", failures.Take(5)));
    }
}
