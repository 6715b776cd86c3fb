using System.Buffers.Binary;
using System.Text;
using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>
/// Every kind of bad input ends in an <see cref="AudioDecodeException"/> whose message names the source and says what
/// was wrong; nothing is truncated or zero-filled silently, and the process carries on.
/// </summary>
[TestClass]
public sealed class BadAudioTests
{
    private static readonly AudioDecodeOptions Options = new() { Mono = false };

    private static WavBuilder Valid(int frames = 100, int channels = 2, SampleFormat format = SampleFormat.Pcm16)
        => WavBuilder.For(Signals.MultiChannel(frames, channels, 8000), 8000, format);

    /// <summary>Decodes from a file, from bytes and from a forward-only stream; all three must fail the same way.</summary>
    private static void AssertFails(byte[] bytes, string expectedReason, bool exactReason = false)
    {
        using var folder = new TempFolder();
        var path = folder.Write("bad input.wav", bytes);
        AssertException(() => AudioDecoder.Decode(path, Options), path, expectedReason, exactReason);
        AssertException(() => AudioDecoder.Decode(bytes, "column[7]", Options), "column[7]", expectedReason, exactReason);
        using var stream = new ProbeStream(new MemoryStream(bytes), canSeek: false);
        AssertException(() => AudioDecoder.Decode(stream, "stream.wav", Options), "stream.wav", expectedReason, exactReason);
    }

    private static AudioDecodeException AssertException(Action decode, string source, string expectedReason, bool exactReason = false)
    {
        var e = Assert.Throws<AudioDecodeException>(decode);
        Assert.AreEqual(source, e.SourceName);
        Assert.AreEqual($"Cannot decode audio '{source}': {e.Reason}", e.Message);
        if (exactReason)
            Assert.AreEqual(expectedReason, e.Reason);
        else
            StringAssert.Contains(e.Reason, expectedReason);
        return e;
    }

    [TestMethod]
    public void Decode_Throws_NamingFile_WhenTheFileDoesNotExist()
    {
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "missing.wav");

        var e = AssertException(() => AudioDecoder.Decode(path, Options), path, "file not found", exactReason: true);

        Assert.IsInstanceOfType<FileNotFoundException>(e.InnerException);
    }

    [TestMethod]
    public void Decode_Throws_NamingFile_WhenTheDirectoryDoesNotExist()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "a.wav");

        var e = AssertException(() => AudioDecoder.Decode(path, Options), path, "directory not found", exactReason: true);

        Assert.IsInstanceOfType<DirectoryNotFoundException>(e.InnerException);
    }

    [TestMethod]
    public void Decode_Throws_NamingPath_WhenThePathIsADirectory()
    {
        using var folder = new TempFolder();

        AssertException(() => AudioDecoder.Decode(folder.Path, Options), folder.Path, "the path is a directory", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_NamingFile_WhenTheFileIsEmpty()
        => AssertFails([], "the file is empty (0 bytes)", exactReason: true);

    [TestMethod]
    [DataRow("hello, this is not audio\n", "not a supported audio file: it looks like text (starts with 68 65 6C 6C)")]
    [DataRow("ID3\u0004\0\0\0\0\0\0", "the file holds only an ID3 tag (10 bytes), no audio")]
    [DataRow("OggS\0\u0002\0\0\0\0\0\0", "the Ogg page header is cut off: the file has only 12 bytes")]
    [DataRow("fLaC\0\0\0\u0022", "the header is cut off inside STREAMINFO")]
    [DataRow("FORM\0\0\0\u0004WAVE", "an IFF file of type 'WAVE', not AIFF or AIFF-C audio")]
    [DataRow("RIFF\u0024\0\0\0AVI LIST", "a RIFF file of type 'AVI ', not WAVE audio")]
    [DataRow("RIF", "the header is cut off: the file has only 3 bytes")]
    [DataRow("RIFF\u0024\0", "the header is cut off: the file has only 6 bytes")]
    public void Decode_Throws_SayingWhatTheFileLooksLike_WhenItIsNotAudioOrCutOff(string content, string reason)
        => AssertFails(Encoding.Latin1.GetBytes(content), reason);

    [TestMethod]
    public void Decode_Throws_NamingFile_WhenItIsAPngImage()
    {
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, .. "IHDR"u8];
        AssertFails(png, "not a supported audio file: it looks like a PNG image (starts with 89 50 4E 47)", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_WhenBinaryGarbageFollowsAValidRiffHeader()
    {
        byte[] bytes = [.. "RIFF"u8, 100, 0, 0, 0, .. "WAVE"u8, 0x01, 0xFE, 0x80, 0x00, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        AssertFails(bytes, "the chunk list is corrupt: bytes 01 FE 80 00 at byte 12 are not a chunk id", exactReason: true);
    }

    /// <summary>Cut positions: inside "RIFF", inside "WAVE", inside the fmt chunk header, inside the fmt body, and
    /// right after fmt (no data chunk at all).</summary>
    [TestMethod]
    [DataRow(2, "the header is cut off: the file has only 2 bytes")]
    [DataRow(10, "the header is cut off: the file has only 10 bytes")]
    [DataRow(16, "the header is cut off inside a chunk header at byte 12")]
    [DataRow(30, "the header is cut off: the 'fmt ' chunk declares 16 bytes but only 10 are present")]
    [DataRow(36, "no 'data' chunk: the header is cut off after 36 bytes")]
    [DataRow(40, "the header is cut off inside a chunk header at byte 36")]
    public void Decode_Throws_NamingFile_WhenTheHeaderIsCutOff(int length, string reason)
        => AssertFails(Valid().ToBytes()[..length], reason);

    [TestMethod]
    public void Decode_Throws_NamingFile_WhenTheDataChunkIsTruncated()
    {
        var bytes = Valid(frames: 100, channels: 2).ToBytes(); // 400 bytes of data after a 44-byte header
        AssertFails(bytes[..(44 + 250)], "the header declares 400 bytes of audio data but only 250 are present", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_WhenTheDataChunkIsTruncatedToAPartialFrame_EvenWithADurationThatNeedsIt()
    {
        var bytes = Valid(frames: 100, channels: 2).ToBytes()[..(44 + 398)];
        using var stream = new ProbeStream(new MemoryStream(bytes), canSeek: false);

        AssertException(() => AudioDecoder.Decode(stream, "cut.wav", new AudioDecodeOptions { DurationSeconds = 1 }), "cut.wav",
                        "the header declares 400 bytes of audio data but only 398 are present", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_WhenADataSizeIsNotAWholeNumberOfFrames()
    {
        var builder = Valid(frames: 100, channels: 2);
        builder.DataSize = 399;
        AssertFails(builder.ToBytes(), "the 'data' chunk size 399 is not a whole number of 4-byte frames", exactReason: true);
    }

    [TestMethod]
    [DataRow(0u)]
    [DataRow(0xFFFFFFFFu)]
    public void Decode_Throws_WhenAPlaceholderSizedDataEndsWithAPartialFrame(uint placeholder)
    {
        var builder = Valid(frames: 100, channels: 2);
        builder.DataSize = placeholder;
        AssertFails(builder.ToBytes()[..^3],
                    "the audio data ends with a partial frame: 397 bytes is not a whole number of 4-byte frames", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_WhenAChunkBeforeTheDataRunsPastTheEnd()
    {
        var builder = Valid();
        builder.ChunksBeforeData.Add(("LIST", new byte[10]));
        var bytes = builder.ToBytes();
        int list = WavFormatTests.IndexOf(bytes, "LIST"u8);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(list + 4), 1_000_000);

        AssertFails(bytes, $"no 'data' chunk: the header is cut off inside chunk 'LIST' at byte {list}, which declares 1000000 bytes");
    }

    [TestMethod]
    [DataRow((ushort)0, 8000u, (ushort)16, null, "the header declares 0 channels")]
    [DataRow((ushort)1, 0u, (ushort)16, null, "the header declares a sample rate of 0 Hz")]
    [DataRow((ushort)1, 0x80000000u, (ushort)16, null, "the header declares a sample rate of 2147483648 Hz; supported rates are 100 to 1536000 Hz")]
    [DataRow((ushort)1, 0x7FFFFFFFu, (ushort)16, null, "the header declares a sample rate of 2147483647 Hz; supported rates are 100 to 1536000 Hz")]
    [DataRow((ushort)1, 50u, (ushort)16, null, "the header declares a sample rate of 50 Hz; supported rates are 100 to 1536000 Hz")]
    [DataRow((ushort)1, 8000u, (ushort)0, (ushort)2, "0 bits per sample is not supported for PCM (supported: 8, 16, 24, 32)")]
    [DataRow((ushort)1, 8000u, (ushort)7, (ushort)1, "7 bits per sample is not supported for PCM (supported: 8, 16, 24, 32)")]
    [DataRow((ushort)1, 8000u, (ushort)12, (ushort)2, "12 bits per sample is not supported for PCM (supported: 8, 16, 24, 32)")]
    [DataRow((ushort)2, 8000u, (ushort)16, (ushort)2, "block align 2 is inconsistent with 2 channels of 16 bits (expected 4)")]
    [DataRow((ushort)2, 8000u, (ushort)16, (ushort)0, "block align 0 is inconsistent with 2 channels of 16 bits (expected 4)")]
    [DataRow((ushort)1, 8000u, (ushort)24, (ushort)4, "block align 4 is inconsistent with 1 channels of 24 bits (expected 3)")]
    public void Decode_Throws_NamingTheField_WhenTheHeaderLies(ushort channels, uint rate, ushort bits, ushort? blockAlign, string reason)
    {
        var builder = Valid(frames: 10, channels: 1);
        builder.Channels = channels;
        builder.SampleRate = rate;
        builder.BitsPerSample = bits;
        builder.BlockAlign = blockAlign;
        AssertFails(builder.ToBytes(), reason, exactReason: true);
    }

    [TestMethod]
    [DataRow(WavBuilder.TagAdpcm, false, "unsupported encoding Adpcm (format tag 0x0002); supported: PCM, IEEE float, mu-law and A-law, plain or in WAVE_FORMAT_EXTENSIBLE")]
    [DataRow((ushort)0x0055, false, "unsupported encoding MpegLayer3 (format tag 0x0055)")]
    [DataRow((ushort)0x1234, false, "unsupported encoding format tag 0x1234;")]
    [DataRow(WavBuilder.TagAdpcm, true, "unsupported encoding Adpcm (format tag 0x0002) in WAVE_FORMAT_EXTENSIBLE")]
    public void Decode_Throws_NamingTheEncoding_WhenItIsNotSupported(ushort tag, bool extensible, string reason)
    {
        var builder = Valid(frames: 10, channels: 1);
        builder.BitsPerSample = 16;
        if (extensible) { builder.FormatTag = WavBuilder.TagExtensible; builder.Extensible = true; builder.SubFormatTag = tag; }
        else builder.FormatTag = tag;
        AssertFails(builder.ToBytes(), reason);
    }

    [TestMethod]
    public void Decode_Throws_NamingTheGuid_WhenAnExtensibleSubFormatIsUnknown()
    {
        var builder = Valid(frames: 10, channels: 1, format: SampleFormat.Pcm16);
        builder.FormatTag = WavBuilder.TagExtensible;
        builder.Extensible = true;
        builder.SubFormat = new Guid("6dba3190-67bd-11cf-a0f7-0020afd156e4"); // an Ambisonic B-format GUID
        AssertFails(builder.ToBytes(), "unsupported WAVE_FORMAT_EXTENSIBLE sub-format 6dba3190-67bd-11cf-a0f7-0020afd156e4", exactReason: true);
    }

    [TestMethod]
    [DataRow(14, false, "the 'fmt ' chunk is 14 bytes; it needs at least 16")]
    [DataRow(18, true, "the WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is 18 bytes; it needs 40 to hold the sub-format")]
    public void Decode_Throws_WhenTheFmtChunkIsTooShortForItsFormat(int length, bool extensible, string reason)
    {
        var builder = Valid(frames: 10, channels: 1, format: SampleFormat.Pcm16);
        if (extensible) { builder.FormatTag = WavBuilder.TagExtensible; builder.Extensible = true; }
        builder.FormatLength = length;
        AssertFails(builder.ToBytes(), reason, exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_WhenTheFmtChunkClaimsAnImplausibleSize()
    {
        var bytes = Valid().ToBytes();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), 0x7FFFFFFF);
        AssertFails(bytes, "the 'fmt ' chunk declares 2147483647 bytes, more than the 4096 any format needs", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_WhenThereIsNoFmtChunk()
    {
        byte[] bytes = [.. "RIFF"u8, 20, 0, 0, 0, .. "WAVE"u8, .. "data"u8, 4, 0, 0, 0, 1, 2, 3, 4];
        using var folder = new TempFolder();
        var path = folder.Write("nofmt.wav", bytes);
        AssertException(() => AudioDecoder.Decode(path, Options), path, "no 'fmt ' chunk: the header is cut off after 24 bytes", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_WhenDataPrecedesFmtInAStreamThatCannotSeek()
    {
        var builder = Valid();
        builder.DataBeforeFormat = true;
        using var stream = new ProbeStream(new MemoryStream(builder.ToBytes()), canSeek: false);
        AssertException(() => AudioDecoder.Decode(stream, "pipe", Options), "pipe",
                        "the 'data' chunk comes before the 'fmt ' chunk, which a stream that cannot seek cannot decode", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_WhenAnRf64FileLacksItsDs64Chunk()
    {
        var bytes = Valid().ToBytes();
        "RF64"u8.CopyTo(bytes);
        AssertFails(bytes, "an RF64 file without the 'ds64' chunk that must follow its header", exactReason: true);
    }

    [TestMethod]
    [DataRow(SampleFormat.Float32, float.NaN, "NaN")]
    [DataRow(SampleFormat.Float32, float.PositiveInfinity, "+Infinity")]
    [DataRow(SampleFormat.Float32, float.NegativeInfinity, "-Infinity")]
    [DataRow(SampleFormat.Float64, double.NaN, "NaN")]
    [DataRow(SampleFormat.Float64, 1e300, "an infinite value (or one beyond the float32 range)")]
    public void Decode_Throws_NamingFrameAndChannel_WhenFloatDataHoldsNaNOrInfinity(SampleFormat format, double bad, string what)
    {
        var signal = Signals.MultiChannel(70000, 3, 8000); // more than one 64 K-sample block: the frame index is absolute
        signal[69999, 2] = bad;
        var bytes = WavBuilder.For(signal, 8000, format).ToBytes();
        AssertFails(bytes, $"the float data holds {what} at frame 69999, channel 2 (sample index {69999 * 3 + 2}, 8.749875 s)", exactReason: true);
    }

    [TestMethod]
    public void Decode_Throws_NamingTheFirstBadSample_WhenSeveralAreBad()
    {
        var signal = Signals.MultiChannel(100, 2, 8000);
        signal[40, 1] = double.NaN;
        signal[41, 0] = double.PositiveInfinity;
        AssertFails(WavBuilder.For(signal, 8000, SampleFormat.Float32).ToBytes(), "NaN at frame 40, channel 1");
    }

    [TestMethod]
    public void Decode_WrapsStreamReadErrors_KeepingTheOriginalAsInnerException()
    {
        var bytes = Valid(frames: 5000).ToBytes();
        using var stream = new FailingStream(new MemoryStream(bytes), failAfter: 1000, new IOException("disk on fire"));

        var e = AssertException(() => AudioDecoder.Decode(stream, "flaky.wav", Options), "flaky.wav", "read error: disk on fire", exactReason: true);

        Assert.IsInstanceOfType<IOException>(e.InnerException);
        Assert.AreEqual("disk on fire", e.InnerException!.Message);
    }

    [TestMethod]
    public void Decode_LetsExceptionsThatAreNotAboutTheAudioPassUnwrapped()
    {
        var bytes = Valid(frames: 5000).ToBytes();
        using var stream = new FailingStream(new MemoryStream(bytes), failAfter: 1000, new OutOfMemoryException("simulated"));

        Assert.Throws<OutOfMemoryException>(() => AudioDecoder.Decode(stream, "oom.wav", Options));
    }

    [TestMethod]
    public void Decode_StillWorks_AfterEveryKindOfFailure()
    {
        foreach (var bad in new[] { Array.Empty<byte>(), "junk"u8.ToArray(), Valid().ToBytes()[..30] })
            Assert.Throws<AudioDecodeException>(() => AudioDecoder.Decode(bad, "bad", Options));

        Assert.AreEqual(100, AudioDecoder.Decode(Valid().ToBytes(), "good", Options).Frames);
    }

    private sealed class FailingStream(Stream inner, long failAfter, Exception failure) : Stream
    {
        private long read;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (read >= failAfter)
                throw failure;
            int n = inner.Read(buffer[..(int)Math.Min(buffer.Length, failAfter - read)]);
            read += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
