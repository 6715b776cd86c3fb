using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>
/// What a decode reads and allocates: sizes claimed by a header never become allocations, and a fixed duration reads
/// exactly the header plus the source frames that duration needs, from a 200 MB file or an endless stream.
/// </summary>
[TestClass]
public sealed class ReadBudgetTests
{
    /// <summary>Working memory of one decode: a 64 K-sample conversion block (and NAudio's byte buffer for it), a
    /// 64 K-sample initial output, the header buffer. A few MB is generous; a trusted 2 GB header would be 8 GB of floats.</summary>
    private const long AllocationBudget = 4 << 20;

    private const int HeaderBytes = 44; // RIFF + fmt (16-byte PCM) + data chunk header, as WavBuilder writes them

    private static long AllocatedBy(Action action)
    {
        AudioDecoder.Decode(WavBuilder.For(Signals.MultiChannel(10, 1, 8000), 8000, SampleFormat.Pcm16).ToBytes(), "warm-up", new AudioDecodeOptions());
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static byte[] SmallFileClaiming(uint dataSize, int frames = 100)
    {
        var builder = WavBuilder.For(Signals.MultiChannel(frames, 2, 8000), 8000, SampleFormat.Pcm16);
        builder.DataSize = dataSize;
        return builder.ToBytes();
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void Decode_DoesNotAllocateWhatAHeaderClaims_WhenItDeclaresTwoGigabytesOfData(bool seekable)
    {
        var bytes = SmallFileClaiming(0x7FFFFFFC);
        using var stream = new ProbeStream(new MemoryStream(bytes), canSeek: seekable);
        AudioDecodeException? error = null;

        long allocated = AllocatedBy(() => error = Assert.Throws<AudioDecodeException>(() => AudioDecoder.Decode(stream, "liar.wav", new AudioDecodeOptions())));

        Assert.AreEqual("the header declares 2147483644 bytes of audio data but only 400 are present", error!.Reason);
        Console.WriteLine($"allocated {allocated / 1024} KB");
        Assert.IsLessThan(AllocationBudget, allocated);
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void Decode_DecodesWhatIsThere_WhenTheSizeIsSoxsTwoGigabytePlaceholder_AllocatingLittle(bool seekable)
    {
        var bytes = SmallFileClaiming(WavSoxPlaceholder, frames: 1000);
        using var stream = new ProbeStream(new MemoryStream(bytes), canSeek: seekable);
        AudioBuffer? decoded = null;

        long allocated = AllocatedBy(() => decoded = AudioDecoder.Decode(stream, "piped.wav", new AudioDecodeOptions { Mono = false }));

        Assert.AreEqual(1000, decoded!.Frames);
        Console.WriteLine($"allocated {allocated / 1024} KB");
        Assert.IsLessThan(AllocationBudget, allocated);
    }

    private const uint WavSoxPlaceholder = 0x7FFFF000;

    [TestMethod]
    public void Decode_DoesNotAllocateForChannels_ThatAHeaderDeclaresButTheDataCannotFill()
    {
        // 32767 channels of 8 bits: every block and buffer is sized in samples, not frames.
        var builder = new WavBuilder { Channels = 32767, BitsPerSample = 8, SampleRate = 8000, Data = new byte[32767 * 3], DataSize = 0 };
        using var stream = new ProbeStream(new MemoryStream(builder.ToBytes()), canSeek: false);
        AudioBuffer? decoded = null;

        long allocated = AllocatedBy(() => decoded = AudioDecoder.Decode(stream, "wide.wav", new AudioDecodeOptions()));

        Assert.AreEqual(3, decoded!.Frames);
        Assert.IsLessThan(AllocationBudget, allocated);
    }

    [TestMethod]
    [DataRow(16000, 1.0)]
    [DataRow(44100, 1.0)]
    [DataRow(8000, 2.5)]
    public void Decode_ReadsOnlyTheHeaderAndTheFramesTheDurationNeeds_FromA200MegabyteFile(int outputRate, double seconds)
    {
        const int rate = 44100, blockAlign = 4;
        const long dataBytes = 200_000_000;
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "huge.wav");
        using (var file = new FileStream(path, FileMode.CreateNew))
        {
            var header = new WavBuilder { Channels = 2, BitsPerSample = 16, SampleRate = rate, DataSize = (uint)dataBytes }.ToBytes();
            Assert.AreEqual(HeaderBytes, header.Length);
            file.Write(header);
            file.SetLength(HeaderBytes + dataBytes); // sparse: 200 MB of silence that costs no disk
        }

        using var stream = new ProbeStream(File.OpenRead(path));
        var options = new AudioDecodeOptions { SampleRate = outputRate, DurationSeconds = seconds };
        var decoded = AudioDecoder.Decode(stream, "huge.wav", options);

        long frames = (long)Math.Round(seconds * outputRate);
        long sourceFrames = outputRate == rate
            ? frames
            : (frames - 1) * rate / outputRate + 1 + AudioDecoder.ResamplerHalfLength(rate, outputRate);
        Assert.AreEqual(frames, decoded.Frames);
        Assert.IsTrue(decoded.Samples.All(x => x == 0f));
        Assert.AreEqual(HeaderBytes + sourceFrames * blockAlign, stream.BytesRead);
        Console.WriteLine($"{outputRate} Hz, {seconds} s: read {stream.BytesRead} of {HeaderBytes + dataBytes} bytes");

        var fromPath = AudioDecoder.Decode(path, options);
        CollectionAssert.AreEqual(decoded.Samples, fromPath.Samples);
    }

    [TestMethod]
    [DataRow(16000, 2.0, 1)]
    [DataRow(22050, 0.5, 2)]
    public void Decode_Terminates_OnAnEndlessStream_WhenADurationIsGiven(int outputRate, double seconds, int channels)
    {
        const int rate = 48000;
        using var stream = new ProbeStream(new EndlessWavStream(rate, channels), canSeek: false, maxRead: 1500);

        var decoded = AudioDecoder.Decode(stream, "live", new AudioDecodeOptions { SampleRate = outputRate, DurationSeconds = seconds, Mono = false });

        long frames = (long)Math.Round(seconds * outputRate);
        long sourceFrames = (frames - 1) * rate / outputRate + 1 + AudioDecoder.ResamplerHalfLength(rate, outputRate);
        Assert.AreEqual(frames, decoded.Frames);
        Assert.AreEqual(HeaderBytes + sourceFrames * 2 * channels, stream.BytesRead);
        // The content is real: a 1 kHz sine at half scale, so the RMS is about 0.354 away from the start.
        double rms = Math.Sqrt(decoded.GetChannel(0)[1000..].ToArray().Average(x => (double)x * x));
        Assert.AreEqual(0.5 / Math.Sqrt(2), rms, 1e-3);
    }

    /// <summary>A WAV header with the 0xFFFFFFFF "unknown" data size, then 16-bit 1 kHz sine frames forever.</summary>
    private sealed class EndlessWavStream : Stream
    {
        private readonly byte[] header;
        private readonly int rate, channels;
        private long position;

        public EndlessWavStream(int rate, int channels)
        {
            this.rate = rate;
            this.channels = channels;
            header = new WavBuilder { Channels = (ushort)channels, SampleRate = (uint)rate, BitsPerSample = 16, DataSize = uint.MaxValue, RiffSize = uint.MaxValue }.ToBytes();
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            for (int i = 0; i < buffer.Length; i++, position++)
            {
                if (position < header.Length)
                {
                    buffer[i] = header[(int)position];
                    continue;
                }
                long sampleByte = position - header.Length;
                long frame = sampleByte / (2 * channels);
                short value = (short)Math.Round(16384 * Math.Sin(2 * Math.PI * 1000 * frame / rate));
                buffer[i] = (byte)(sampleByte % 2 == 0 ? value : value >> 8); // little-endian
            }
            return buffer.Length;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
