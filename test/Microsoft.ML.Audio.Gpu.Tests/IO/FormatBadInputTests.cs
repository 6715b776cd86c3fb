using System.Buffers.Binary;
using System.Text;
using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>
/// Damaged files of the compressed formats and AIFF: each fails with an <see cref="AudioDecodeException"/> that names
/// the file and says what is wrong, without allocating what a header claims; and a fixed duration reads only the
/// beginning of a long compressed file.
/// </summary>
[TestClass]
public sealed class FormatBadInputTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "formats");

    private static string SamplesDir => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "artifacts", "audio-samples"));

    private static byte[] Fixture(string file) => File.ReadAllBytes(Path.Combine(Folder, file));

    /// <summary>A FLAC file's first frame: after the metadata blocks (the last one has the top bit set).</summary>
    private static int FirstFlacFrame(byte[] b)
    {
        int p = 4;
        while (true)
        {
            bool last = (b[p] & 0x80) != 0;
            p += 4 + (b[p + 1] << 16 | b[p + 2] << 8 | b[p + 3]);
            if (last) return p;
        }
    }

    private static AudioDecodeException Fails(byte[] bytes, string reasonPart, AudioDecodeOptions? options = null)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<AudioDecodeException>(() => AudioDecoder.Decode(bytes, "damaged.bin", options ?? new AudioDecodeOptions { Mono = false }));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.AreEqual("damaged.bin", e.SourceName);
        StringAssert.Contains(e.Reason, reasonPart);
        // Working memory of a decode: frame windows and blocks of a few MB at most, never a declared size.
        Assert.IsLessThan(16L << 20, allocated, $"allocated {allocated} bytes to reject it");
        return e;
    }

    [TestMethod]
    public void Flac_Fails_WhenAFrameIsCorrupt()
    {
        var b = Fixture("flac16_stereo_44k.flac");
        b[FirstFlacFrame(b) + 100] ^= 0x10;
        Fails(b, "is corrupt");
    }

    [TestMethod]
    public void Flac_Fails_WhenTheStreamIsCutOff()
    {
        var b = Fixture("flac16_stereo_44k.flac");
        Fails(b[..(b.Length * 2 / 3)], "cut off");
    }

    [TestMethod]
    public void Flac_Fails_WhenTheSamplesDoNotMatchTheMd5Signature()
    {
        var b = Fixture("flac16_stereo_44k.flac");
        b[8 + 18] ^= 1; // STREAMINFO's MD5 starts at byte 18 of the block
        Fails(b, "does not match the MD5 signature");
        // A duration longer than the file decodes every sample: checked too.
        Fails(b, "does not match the MD5 signature", new AudioDecodeOptions { DurationSeconds = 1 });
        // A shorter one does not decode every sample: no MD5 to check, and the audio is intact.
        Assert.AreEqual(441, AudioDecoder.Decode(b, "cropped", new AudioDecodeOptions { DurationSeconds = 0.01 }).Frames);
    }

    [TestMethod]
    public void Flac_Fails_WithoutAllocatingIt_WhenStreamInfoDeclaresBillionsOfSamples()
    {
        var b = Fixture("flac16_stereo_44k.flac");
        // Total samples: the low 36 bits of STREAMINFO bytes 10..17, set to 2^36 − 1.
        ulong packed = BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(8 + 10));
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(8 + 10), packed | 0xF_FFFF_FFFF);
        Fails(b, "STREAMINFO declares 68719476735 samples but the frames hold only 13230");
    }

    [TestMethod]
    public void Flac_Fails_WhenAMetadataBlockRunsPastTheEnd()
    {
        var b = Fixture("flac16_silence.flac");
        Fails(b[..60], "the header is cut off");
    }

    [TestMethod]
    public void Mp3_Fails_WhenTheFileIsShorterThanItsLameTagSays()
    {
        var b = Fixture("mp3_stereo_44k_cbr.mp3");
        Fails(b[..(b.Length / 2)], "the LAME tag declares 11025 samples");
    }

    [TestMethod]
    public void Mp3_Fails_WhenNoFrameFollowsTheId3Tag()
    {
        byte[] b = [.. "ID3"u8, 4, 0, 0, 0, 0, 0, 20, .. new byte[20], .. Encoding.ASCII.GetBytes("no frames here, only text")];
        Fails(b, "no MPEG audio frame found");
    }

    [TestMethod]
    [DataRow("\u007FFLAC", "an Ogg file holding FLAC, which is not supported")]
    [DataRow("Speex   ", "an Ogg file holding Speex, which is not supported")]
    public void Ogg_Fails_NamingTheCodec_WhenItIsNotVorbisOrOpus(string packet, string reason)
    {
        var b = Fixture("opus_stereo_48k.opus");
        int first = 27 + b[26];
        Encoding.Latin1.GetBytes(packet).CopyTo(b, first);
        Fails(b, reason);
    }

    [TestMethod]
    [DataRow("vorbis_stereo_44k.ogg")]
    [DataRow("opus_stereo_48k.opus")]
    public void Ogg_Fails_WhenTheFileIsCutOffOrAPageIsDamaged(string file)
    {
        // NVorbis ends a stream quietly at a bad page or at the end of the bytes; the decoder must not.
        var b = Fixture(file);
        Fails(b[..(b.Length * 3 / 4)], "the Ogg stream ends without its last page");
        b[^40] ^= 0x55; // inside the last page: its checksum fails
        Fails(b, "the Ogg stream ends without its last page");
    }

    [TestMethod]
    public void Opus_Fails_WhenTheStreamHasNoAudioPagesAfterItsHeaders()
    {
        var b = Fixture("opus_stereo_48k.opus");
        // Keep the pages that hold OpusHead and OpusTags (the first two), drop the rest.
        int second = b.AsSpan(4).IndexOf("OggS"u8) + 4;
        int third = b.AsSpan(second + 4).IndexOf("OggS"u8) + second + 4;
        Fails(b[..third], "the Ogg stream ends without its last page");
    }

    [TestMethod]
    public void Aiff_Fails_WhenCommDeclaresMoreFramesThanTheSoundChunkHolds()
    {
        var b = Fixture("aiff16_stereo.aiff");
        int comm = b.AsSpan().IndexOf("COMM"u8);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(comm + 10), 0x7FFFFFFF);
        Fails(b, "the 'COMM' chunk declares 2147483647 frames");
    }

    [TestMethod]
    public void Aiff_Fails_WhenItsSampleRateIsNotAudio()
    {
        var b = Fixture("aiff16_stereo.aiff");
        int comm = b.AsSpan().IndexOf("COMM"u8);
        b[comm + 16] = 0x7F; // the 80-bit rate's exponent: about 2^16000 Hz
        Fails(b, "sample rate");
    }

    [TestMethod]
    [DataRow("piano-mp3/C4v10.mp3")]
    [DataRow("piano-ogg/C4v10.ogg")]
    [DataRow("scsynth/loop_amen_full.flac")]
    public void FixedDuration_ReadsOnlyTheBeginning_OfALongCompressedFile(string file)
    {
        string path = Path.Combine(SamplesDir, file);
        if (!File.Exists(path))
            Assert.Fail($"{path} is missing: run build/fetch-audio-samples.sh (the test build does)");
        long length = new FileInfo(path).Length;
        using var stream = new ProbeStream(File.OpenRead(path), canSeek: false);

        var audio = AudioDecoder.Decode(stream, file, new AudioDecodeOptions { SampleRate = 16000, DurationSeconds = 0.5 });

        Assert.AreEqual(8000, audio.Frames);
        Console.WriteLine($"{file}: read {stream.BytesRead} of {length} bytes for 0.5 s");
        Assert.IsLessThan(length / 4, stream.BytesRead);
    }
}
