using System.Buffers.Binary;
using System.Globalization;
using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>
/// FLAC, AIFF, MP3, Ogg Vorbis and Ogg Opus files written by independent encoders (Fixtures/formats/generate.sh),
/// compared with independent reference decoders: <c>flac -d</c> and SoX bit for bit, ffmpeg and oggdec within the
/// errors below. Frame counts are exact for every format (gapless trims included).
/// </summary>
[TestClass]
public sealed class FormatFixtureTests
{
    /// <summary>
    /// Lossy formats: least signal-to-error ratio against the reference decode, in dB, per decoder (measured values in
    /// docs/decoding.md). Both sides are float decoders of the same bitstream; what differs is arithmetic order, and for
    /// Opus the implementation (Concentus, a port of libopus, against ffmpeg's own Opus decoder). Vorbis's reference is
    /// oggdec's 16-bit output, whose quantisation alone limits the ratio to about 90 dB at this level.
    /// </summary>
    private static readonly Dictionary<string, double> MinSnrDb = new()
    {
        ["mp3"] = 60,
        ["ogg"] = 60,
        ["opus"] = 40,
    };

    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "formats");

    public sealed record Fixture(string Name, string File, string Reference, int Channels, int Rate, int Frames, string Comparison)
    {
        public bool Exact => Comparison == "exact";
        public bool Rejected => Comparison == "rejected";
    }

    private static readonly Lazy<Dictionary<string, Fixture>> Manifest = new(() => System.IO.File.ReadAllLines(Path.Combine(Folder, "manifest.tsv"))
        .Skip(1)
        .Select(line => line.Split('\t'))
        .Select(f => new Fixture(f[0], f[1], f[2], Int(f[3]), Int(f[4]), Int(f[5]), f[6]))
        .ToDictionary(f => f.Name));

    private static int Int(string s) => int.Parse(s, CultureInfo.InvariantCulture);

    public static IEnumerable<object[]> Exact => Manifest.Value.Values.Where(f => f.Exact).Select(f => new object[] { f.Name });

    public static IEnumerable<object[]> Lossy => Manifest.Value.Values.Where(f => f.Comparison == "lossy").Select(f => new object[] { f.Name });

    public static IEnumerable<object[]> Rejected => Manifest.Value.Values.Where(f => f.Rejected).Select(f => new object[] { f.Name });

    /// <summary>Every fixture the library decodes.</summary>
    public static IEnumerable<object[]> All => Manifest.Value.Values.Where(f => !f.Rejected).Select(f => new object[] { f.Name });

    private static AudioBuffer Decode(Fixture f, AudioDecodeOptions? options = null)
        => AudioDecoder.Decode(Path.Combine(Folder, f.File), options ?? new AudioDecodeOptions { Mono = false });

    [TestMethod]
    public void Manifest_ListsEveryFixtureOnDisk()
    {
        var onDisk = Directory.GetFiles(Folder).Select(Path.GetFileName).Where(n => !n!.EndsWith(".ref.wav") && n.Contains('.') && !n.EndsWith(".sh") && !n.EndsWith(".tsv")).Order().ToArray();
        CollectionAssert.AreEqual(Manifest.Value.Values.Select(f => f.File).Order().ToArray(), onDisk);
        foreach (string ext in new[] { "flac", "aiff", "aifc", "mp3", "ogg", "opus" })
            Assert.IsTrue(onDisk.Any(n => n!.EndsWith("." + ext)), $"no .{ext} fixture");
    }

    [TestMethod]
    [DynamicData(nameof(Exact))]
    public void Decode_EqualsTheReferenceDecoderBitForBit_ForLosslessFormats(string name)
    {
        var f = Manifest.Value[name];
        var reference = ReferenceWav.Read(Path.Combine(Folder, f.Reference));

        var decoded = Decode(f);

        Assert.AreEqual(f.Channels, decoded.Channels);
        Assert.AreEqual(f.Rate, decoded.SampleRate);
        Assert.AreEqual(f.Frames, decoded.Frames);
        for (int c = 0; c < f.Channels; c++)
            CollectionAssert.AreEqual(reference.Channel(c), decoded.GetChannel(c).ToArray(), $"channel {c}");
    }

    [TestMethod]
    [DynamicData(nameof(Lossy))]
    public void Decode_MatchesTheReferenceDecoderWithinItsStatedError_WithTheExactFrameCount_ForLossyFormats(string name)
    {
        var f = Manifest.Value[name];
        var reference = ReferenceWav.Read(Path.Combine(Folder, f.Reference));

        var decoded = Decode(f);

        Assert.AreEqual(f.Channels, decoded.Channels);
        Assert.AreEqual(f.Rate, decoded.SampleRate);
        Assert.AreEqual(f.Frames, decoded.Frames, $"frame count (gapless trim): {decoded.Frames} for {f.Frames}");
        double minSnr = MinSnrDb[Path.GetExtension(f.File).TrimStart('.')];
        for (int c = 0; c < f.Channels; c++)
        {
            var (snr, maxAbs) = Compare(reference.Channel(c), decoded.GetChannel(c));
            Console.WriteLine(FormattableString.Invariant($"{name} channel {c}: SNR {snr:F1} dB, max |error| {maxAbs:E2}"));
            Assert.IsGreaterThan(minSnr, snr, $"channel {c}");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Rejected))]
    public void Decode_RejectsSayingWhy_FilesItWouldDecodeWrongly(string name)
    {
        // 5.1 Vorbis (NVorbis 0.10.5 decodes it to noise) and 8 kHz MP3 with short blocks (NLayer 3.0.1 decodes those
        // frames wrongly): docs/decoding.md. A clear error beats wrong audio.
        var f = Manifest.Value[name];
        var e = Assert.Throws<AudioDecodeException>(() => Decode(f));
        StringAssert.Contains(e.Reason, "not supported");
    }

    /// <summary>Signal-to-error ratio in dB and the largest absolute difference.</summary>
    internal static (double snrDb, double maxAbs) Compare(ReadOnlySpan<float> reference, ReadOnlySpan<float> actual)
    {
        double signal = 0, error = 0, maxAbs = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = (double)actual[i] - reference[i];
            signal += (double)reference[i] * reference[i];
            error += d * d;
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
        }
        return (error == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / error), maxAbs);
    }

    [TestMethod]
    [DynamicData(nameof(All))]
    public void Decode_GivesTheSameSamples_FromAPathBytesAndAStreamThatCannotSeek(string name)
    {
        var f = Manifest.Value[name];
        string path = Path.Combine(Folder, f.File);
        var options = new AudioDecodeOptions { Mono = false };
        var fromPath = AudioDecoder.Decode(path, options);
        var fromBytes = AudioDecoder.Decode(File.ReadAllBytes(path), name, options);
        using var pipe = new ProbeStream(new MemoryStream(File.ReadAllBytes(path)), canSeek: false, maxRead: 1000);
        var fromPipe = AudioDecoder.Decode(pipe, name, options);
        CollectionAssert.AreEqual(fromPath.Samples, fromBytes.Samples);
        CollectionAssert.AreEqual(fromPath.Samples, fromPipe.Samples);
    }

    [TestMethod]
    [DynamicData(nameof(All))]
    public void Decode_MixesResamplesAndCrops_AsForTheDecodedWav(string name)
    {
        // The steps after decoding are shared: a format's file gives what its decoded samples give as a WAV.
        var f = Manifest.Value[name];
        var whole = Decode(f);
        var signal = new double[whole.Frames, whole.Channels];
        for (int c = 0; c < whole.Channels; c++)
            for (int i = 0; i < whole.Frames; i++)
                signal[i, c] = whole.GetChannel(c)[i];
        var asWav = WavBuilder.For(signal, whole.SampleRate, SampleFormat.Float32).ToBytes();
        foreach (var options in new[]
                 {
                     new AudioDecodeOptions { SampleRate = 16000 },
                     new AudioDecodeOptions { SampleRate = 22050, Mono = false, DurationSeconds = 0.05 },
                     new AudioDecodeOptions { DurationSeconds = 1.0 },
                 })
        {
            var expected = AudioDecoder.Decode(asWav, "wav", options);
            var actual = Decode(f, options);
            Assert.AreEqual(expected.Frames, actual.Frames);
            Assert.AreEqual(expected.AudioFrames, actual.AudioFrames);
            CollectionAssert.AreEqual(expected.Samples, actual.Samples);
        }
    }

    [TestMethod]
    [DataRow("flac16_stereo_44k")]
    [DataRow("mp3_stereo_44k_cbr")]
    public void Decode_SkipsAnId3v2Tag_BeforeFlacOrMp3(string name)
    {
        // Taggers put ID3v2 before FLAC too; its size is four 7-bit bytes.
        var f = Manifest.Value[name];
        byte[] body = new byte[300];
        "TIT2"u8.CopyTo(body);
        byte[] tagged = [.. "ID3"u8, 3, 0, 0, 0, 0, (byte)(body.Length >> 7), (byte)(body.Length & 0x7F), .. body, .. File.ReadAllBytes(Path.Combine(Folder, f.File))];

        CollectionAssert.AreEqual(Decode(f).Samples, AudioDecoder.Decode(tagged, name, new AudioDecodeOptions { Mono = false }).Samples);
    }

    [TestMethod]
    [DataRow("flac16_stereo_44k", "audio.wav")]
    [DataRow("mp3_stereo_44k_cbr", "audio.flac")]
    [DataRow("opus_stereo_48k", "audio.ogg")]
    [DataRow("vorbis_mono_16k", "audio")]
    [DataRow("aiff16_stereo", "audio.mp3")]
    public void Decode_ChoosesTheDecoderByContent_NotByTheFileName(string name, string misleadingName)
    {
        var f = Manifest.Value[name];
        using var folder = new TempFolder();
        string renamed = Path.Combine(folder.Path, misleadingName);
        File.Copy(Path.Combine(Folder, f.File), renamed);

        CollectionAssert.AreEqual(Decode(f).Samples, AudioDecoder.Decode(renamed, new AudioDecodeOptions { Mono = false }).Samples);
    }
}

/// <summary>
/// A WAV reader for the reference decodes, independent of the library: integer PCM of any container width scaled
/// by its container (<c>s / 2^(8w − 1)</c>, 8-bit unsigned as <c>s / 128 − 1</c>), or float32.
/// </summary>
internal sealed class ReferenceWav
{
    private readonly float[][] channels;

    private ReferenceWav(float[][] channels) => this.channels = channels;

    public float[] Channel(int c) => channels[c];

    public int Frames => channels[0].Length;

    public static ReferenceWav Read(string path)
    {
        var b = File.ReadAllBytes(path);
        int p = 12, channelCount = 0, width = 0;
        bool isFloat = false;
        while (p + 8 <= b.Length)
        {
            string id = System.Text.Encoding.ASCII.GetString(b, p, 4);
            int size = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p + 4));
            if (id == "fmt ")
            {
                int tag = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(p + 8));
                channelCount = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(p + 10));
                width = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(p + 20)) / channelCount;
                isFloat = tag == 3 || (tag == 0xFFFE && BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(p + 32)) == 3);
            }
            else if (id == "data")
            {
                if (size == 0 || size > b.Length - p - 8)
                    size = b.Length - p - 8;   // ffmpeg or sox writing to a pipe
                int frames = size / (width * channelCount);
                var result = Enumerable.Range(0, channelCount).Select(_ => new float[frames]).ToArray();
                for (int i = 0; i < frames; i++)
                    for (int c = 0; c < channelCount; c++)
                    {
                        int at = p + 8 + (i * channelCount + c) * width;
                        result[c][i] = isFloat ? BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(at))
                            : width == 1 ? b[at] / 128f - 1f
                            : width == 2 ? BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(at)) / 32768f
                            : width == 3 ? (((sbyte)b[at + 2] << 16) | (b[at + 1] << 8) | b[at]) / 8388608f
                            : BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(at)) / 2147483648f;
                    }
                return new ReferenceWav(result);
            }
            p += 8 + size + (size & 1);
        }
        throw new InvalidDataException($"{path}: no data chunk");
    }
}
