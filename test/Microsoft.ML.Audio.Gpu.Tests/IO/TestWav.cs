using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>Sample encodings the test writer produces.</summary>
public enum SampleFormat
{
    Pcm8,
    Pcm16,
    Pcm24,
    Pcm32,
    Float32,
    Float64,
    MuLaw,
    ALaw,
}

/// <summary>
/// An independent WAV writer for the tests: RIFF, fmt and data written byte by byte from the specification
/// (Microsoft's WAVEFORMATEX / WAVEFORMATEXTENSIBLE, EBU Tech 3306 for RF64), sharing no code with the library.
/// Every field can be overridden to make broken files.
/// </summary>
internal sealed class WavBuilder
{
    public const ushort TagPcm = 1, TagAdpcm = 2, TagFloat = 3, TagALaw = 6, TagMuLaw = 7, TagExtensible = 0xFFFE;

    public string RiffId { get; set; } = "RIFF";
    public uint? RiffSize { get; set; }
    public string Form { get; set; } = "WAVE";
    public ushort FormatTag { get; set; } = TagPcm;
    public ushort Channels { get; set; } = 1;
    public uint SampleRate { get; set; } = 8000;
    public ushort BitsPerSample { get; set; } = 16;
    public ushort? BlockAlign { get; set; }
    public bool Extensible { get; set; }
    public ushort SubFormatTag { get; set; } = TagPcm;
    public Guid? SubFormat { get; set; }
    /// <summary>Bytes of the fmt chunk actually written (to cut it short); null writes it all.</summary>
    public int? FormatLength { get; set; }
    public byte[] Data { get; set; } = [];
    /// <summary>Data size written in the header; null writes <see cref="Data"/>'s length.</summary>
    public uint? DataSize { get; set; }
    public List<(string Id, byte[] Body)> ChunksBeforeFormat { get; } = [];
    public List<(string Id, byte[] Body)> ChunksBeforeData { get; } = [];
    public List<(string Id, byte[] Body)> ChunksAfterData { get; } = [];
    public bool DataBeforeFormat { get; set; }
    /// <summary>RF64: the 32-bit sizes are 0xFFFFFFFF and the real ones sit in a ds64 chunk.</summary>
    public bool Rf64 { get; set; }

    public ushort EffectiveBlockAlign => BlockAlign ?? (ushort)(Channels * BitsPerSample / 8);

    /// <summary>A file holding <paramref name="signal"/> [frame, channel] in <paramref name="format"/>.</summary>
    public static WavBuilder For(double[,] signal, int sampleRate, SampleFormat format, bool extensible = false)
    {
        var (tag, bits) = TagAndBits(format);
        return new WavBuilder
        {
            FormatTag = extensible ? TagExtensible : tag,
            Extensible = extensible,
            SubFormatTag = tag,
            Channels = (ushort)signal.GetLength(1),
            SampleRate = (uint)sampleRate,
            BitsPerSample = (ushort)bits,
            Data = Encode(signal, format),
        };
    }

    public static (ushort Tag, int Bits) TagAndBits(SampleFormat format) => format switch
    {
        SampleFormat.Pcm8 => (TagPcm, 8),
        SampleFormat.Pcm16 => (TagPcm, 16),
        SampleFormat.Pcm24 => (TagPcm, 24),
        SampleFormat.Pcm32 => (TagPcm, 32),
        SampleFormat.Float32 => (TagFloat, 32),
        SampleFormat.Float64 => (TagFloat, 64),
        SampleFormat.MuLaw => (TagMuLaw, 8),
        SampleFormat.ALaw => (TagALaw, 8),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    /// <summary>The integer a PCM writer stores for <paramref name="x"/>: round to nearest, clipped.</summary>
    public static long Quantize(double x, int bits)
    {
        double scale = Math.Pow(2, bits - 1);
        return (long)Math.Clamp(Math.Round(x * scale, MidpointRounding.AwayFromZero), -scale, scale - 1);
    }

    /// <summary>What decoding should give for <paramref name="x"/> stored in <paramref name="format"/>, exactly.</summary>
    public static double Expected(double x, SampleFormat format) => format switch
    {
        SampleFormat.Float32 => (float)x,
        SampleFormat.Float64 => (float)x,
        SampleFormat.MuLaw or SampleFormat.ALaw => throw new ArgumentException("G.711 is tested byte by byte"),
        _ => Quantize(x, TagAndBits(format).Bits) / Math.Pow(2, TagAndBits(format).Bits - 1),
    };

    /// <summary>Interleaved little-endian samples.</summary>
    public static byte[] Encode(double[,] signal, SampleFormat format)
    {
        int frames = signal.GetLength(0), channels = signal.GetLength(1);
        int bytes = TagAndBits(format).Bits / 8;
        var data = new byte[frames * channels * bytes];
        var span = data.AsSpan();
        for (int i = 0; i < frames; i++)
        {
            for (int c = 0; c < channels; c++)
            {
                var at = span.Slice((i * channels + c) * bytes, bytes);
                double x = signal[i, c];
                switch (format)
                {
                    case SampleFormat.Pcm8: at[0] = (byte)(Quantize(x, 8) + 128); break; // 8-bit WAV is unsigned
                    case SampleFormat.Pcm16: BinaryPrimitives.WriteInt16LittleEndian(at, (short)Quantize(x, 16)); break;
                    case SampleFormat.Pcm24:
                        long v = Quantize(x, 24);
                        at[0] = (byte)v; at[1] = (byte)(v >> 8); at[2] = (byte)(v >> 16);
                        break;
                    case SampleFormat.Pcm32: BinaryPrimitives.WriteInt32LittleEndian(at, (int)Quantize(x, 32)); break;
                    case SampleFormat.Float32: BinaryPrimitives.WriteSingleLittleEndian(at, (float)x); break;
                    case SampleFormat.Float64: BinaryPrimitives.WriteDoubleLittleEndian(at, x); break;
                    default: throw new ArgumentException("G.711 data is written as raw bytes");
                }
            }
        }
        return data;
    }

    /// <summary>The file's bytes.</summary>
    public byte[] ToBytes()
    {
        var fmt = FormatChunk();
        uint dataSize = DataSize ?? (uint)Data.Length;
        var body = new MemoryStream();
        var w = new BinaryWriter(body);
        if (Rf64)
        {
            // ds64: RIFF size, data size, sample count (64-bit each), table length 0.
            w.Write(Encoding.ASCII.GetBytes("ds64"));
            w.Write(28u);
            w.Write(0L); // patched below
            w.Write((long)Data.Length);
            w.Write((long)(Data.Length / Math.Max(1, (int)EffectiveBlockAlign)));
            w.Write(0u);
        }
        foreach (var (id, b) in ChunksBeforeFormat) WriteChunk(w, id, b, (uint)b.Length);
        if (DataBeforeFormat)
        {
            WriteChunk(w, "data", Data, Rf64 ? uint.MaxValue : dataSize);
            WriteChunk(w, "fmt ", fmt, (uint)fmt.Length);
            foreach (var (id, b) in ChunksBeforeData) WriteChunk(w, id, b, (uint)b.Length);
        }
        else
        {
            WriteChunk(w, "fmt ", fmt, (uint)fmt.Length);
            foreach (var (id, b) in ChunksBeforeData) WriteChunk(w, id, b, (uint)b.Length);
            WriteChunk(w, "data", Data, Rf64 ? uint.MaxValue : dataSize);
        }
        foreach (var (id, b) in ChunksAfterData) WriteChunk(w, id, b, (uint)b.Length);
        w.Flush();

        var file = new MemoryStream();
        var f = new BinaryWriter(file);
        f.Write(Encoding.ASCII.GetBytes(Rf64 ? "RF64" : RiffId));
        f.Write(Rf64 ? uint.MaxValue : RiffSize ?? (uint)(4 + body.Length));
        f.Write(Encoding.ASCII.GetBytes(Form));
        f.Write(body.ToArray());
        f.Flush();
        var bytes = file.ToArray();
        if (Rf64)
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(20), bytes.Length - 8);
        return bytes;
    }

    /// <summary>Writes the file to a new temporary path and returns it.</summary>
    public string WriteTemp(TempFolder folder, string name) => folder.Write(name, ToBytes());

    private byte[] FormatChunk()
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(FormatTag);
        w.Write(Channels);
        w.Write(SampleRate);
        w.Write(SampleRate * EffectiveBlockAlign);
        w.Write(EffectiveBlockAlign);
        w.Write(BitsPerSample);
        if (Extensible)
        {
            w.Write((ushort)22);             // cbSize
            w.Write(BitsPerSample);          // wValidBitsPerSample
            w.Write(Channels == 2 ? 3u : 0u); // dwChannelMask
            // KSDATAFORMAT_SUBTYPE_*: the format tag in the first two bytes of 00000000-0000-0010-8000-00AA00389B71.
            w.Write((SubFormat ?? new Guid(SubFormatTag, 0x0000, 0x0010, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71)).ToByteArray());
        }
        else if (FormatTag != TagPcm)
        {
            w.Write((ushort)0);              // cbSize: WAVEFORMATEX for non-PCM
        }
        w.Flush();
        var bytes = ms.ToArray();
        return FormatLength is int n ? bytes[..n] : bytes;
    }

    private static void WriteChunk(BinaryWriter w, string id, byte[] body, uint declared)
    {
        w.Write(Encoding.ASCII.GetBytes(id));
        w.Write(declared);
        w.Write(body);
        if (body.Length % 2 == 1)
            w.Write((byte)0); // RIFF pad byte
    }
}

/// <summary>Reference G.711 decoders written from ITU-T G.711 (not NAudio's tables).</summary>
internal static class G711Reference
{
    public static short MuLaw(byte b)
    {
        int u = ~b & 0xFF;
        int exponent = (u >> 4) & 7, mantissa = u & 0x0F;
        int magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
        return (short)((u & 0x80) != 0 ? -magnitude : magnitude);
    }

    public static short ALaw(byte b)
    {
        int a = b ^ 0x55;
        int exponent = (a >> 4) & 7, mantissa = a & 0x0F;
        int magnitude = exponent == 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
        return (short)((a & 0x80) != 0 ? magnitude : -magnitude);
    }
}

/// <summary>Deterministic test signals.</summary>
internal static class Signals
{
    /// <summary>[frame, channel]: channel c is a sine of 0.8 / (c + 1) amplitude at 110·(c + 1) Hz plus a little
    /// seeded noise, with full-scale extremes at the start so clipping and sign handling are exercised.</summary>
    public static double[,] MultiChannel(int frames, int channels, int sampleRate, int seed = 1)
    {
        var random = new Random(seed);
        var x = new double[frames, channels];
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < frames; i++)
                x[i, c] = 0.8 / (c + 1) * Math.Sin(2 * Math.PI * 110 * (c + 1) * i / sampleRate) + 0.05 * (random.NextDouble() - 0.5);
            double[] extremes = [-1.0, 1.0, 0.0, -0.5, 0.999];
            for (int i = 0; i < Math.Min(frames, extremes.Length); i++)
                x[i, c] = extremes[i] * (c % 2 == 0 ? 1 : -1);
        }
        return x;
    }

    public static double[,] Sine(int frames, int sampleRate, double frequency, double amplitude, int channels = 1)
    {
        var x = new double[frames, channels];
        for (int i = 0; i < frames; i++)
            for (int c = 0; c < channels; c++)
                x[i, c] = amplitude * Math.Sin(2 * Math.PI * frequency * i / sampleRate);
        return x;
    }
}

/// <summary>A temporary folder deleted with its files on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kapre-io-" + Guid.NewGuid().ToString("N"));

    public string Write(string name, byte[] bytes)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllBytes(file, bytes);
        return file;
    }

    public void Dispose()
    {
        if (Directory.Exists(Path))
            Directory.Delete(Path, recursive: true);
    }
}

/// <summary>Wraps a stream: counts the bytes read, can hide seeking and can return short reads (a network or pipe
/// stream).</summary>
internal sealed class ProbeStream(Stream inner, bool canSeek = true, int maxRead = int.MaxValue) : Stream
{
    public long BytesRead { get; private set; }
    public override bool CanRead => true;
    public override bool CanSeek => canSeek;
    public override bool CanWrite => false;
    public override long Length => canSeek ? inner.Length : throw new NotSupportedException();

    public override long Position
    {
        get => canSeek ? inner.Position : throw new NotSupportedException();
        set
        {
            if (!canSeek) throw new NotSupportedException();
            inner.Position = value;
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer[..Math.Min(buffer.Length, maxRead)]);
        BytesRead += n;
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin) => canSeek ? inner.Seek(offset, origin) : throw new NotSupportedException();
    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
