using System.Buffers.Binary;
using System.Globalization;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// AIFF and AIFF-C (Apple's IFF audio): big-endian integer PCM of 1 to 32 bits (stored left-justified in whole bytes),
/// and in AIFF-C also little-endian PCM (<c>sowt</c>), 32- and 64-bit float (<c>fl32</c>, <c>fl64</c>), mu-law and
/// A-law (<c>ulaw</c>, <c>alaw</c>) and unsigned 8-bit (<c>raw </c>).
/// </summary>
/// <remarks>
/// Integer PCM is scaled like WAV's: a sample of <c>w</c> bytes is divided by <c>2^(8w − 1)</c>, so a left-justified
/// 12-bit sample reads as its 16-bit container does. The chunk list is walked forward (COMM before SSND, as every
/// writer puts them; a seekable file may have them the other way round). Sizes are checked against the bytes present
/// before they are used: the frame count of COMM against the SSND chunk, the SSND chunk against the file.
/// </remarks>
internal sealed class AiffReader : AudioSource
{
    private enum Coding { BigEndian, LittleEndian, Float32, Float64, MuLaw, ALaw, Unsigned8 }

    private readonly Stream stream;
    private readonly long? streamLength;  // bytes from the start, when the stream can tell
    private long position;
    private Coding coding;
    private int width;                    // bytes per sample
    private long framesLeft;
    private long? knownFrames;
    private byte[] bytes = [];

    private AiffReader(Stream stream)
    {
        this.stream = stream;
        if (stream.CanSeek)
            streamLength = stream.Length - stream.Position;
    }

    public override string FormatName => "AIFF";

    public override long? KnownFrames => knownFrames;

    /// <summary>Reads and checks the header; the stream is left at the first sample.</summary>
    public static AiffReader Open(Stream stream)
    {
        var reader = new AiffReader(stream);
        reader.ReadHeader();
        return reader;
    }

    private void ReadHeader()
    {
        Span<byte> form = stackalloc byte[12];
        int got = ReadFully(form);
        if (got < 12)
            throw new DecodeFailure($"the header is cut off: the file has only {got} bytes");
        string type = FileSignatures.ChunkId(form[8..12]);
        bool aifc = type == "AIFC";
        if (type != "AIFF" && !aifc)
            throw new DecodeFailure($"an IFF file of type '{type}', not AIFF or AIFF-C audio");

        bool haveComm = false;
        long? soundOffset = null, soundBytes = null;
        Span<byte> header = stackalloc byte[8];
        Span<byte> ssnd = stackalloc byte[8];
        while (true)
        {
            long chunkOffset = position;
            got = ReadFully(header);
            if (got < 8)
                throw new DecodeFailure(got == 0 && haveComm && soundOffset is null ? "no 'SSND' chunk: the file ends after the header"
                    : got == 0 ? $"no 'COMM' chunk: the header is cut off after {chunkOffset} bytes"
                    : $"the header is cut off inside a chunk header at byte {chunkOffset}");
            if (!FileSignatures.IsChunkId(header[..4]))
                throw new DecodeFailure($"the chunk list is corrupt: bytes {FileSignatures.Hex(header[..4])} at byte {chunkOffset} are not a chunk id");
            string chunk = FileSignatures.ChunkId(header[..4]);
            long size = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
            if (chunk == "COMM")
            {
                if (haveComm)
                    throw new DecodeFailure($"a second 'COMM' chunk at byte {chunkOffset}");
                if (size < 18 || size > 4096)
                    throw new DecodeFailure($"the 'COMM' chunk is {size} bytes; it must be 18 to 4096");
                var comm = new byte[size];
                if (ReadFully(comm) < size)
                    throw new DecodeFailure("the header is cut off inside the 'COMM' chunk");
                SkipPad(size);
                ParseComm(comm, aifc);
                haveComm = true;
                if (soundOffset is long offset)
                {
                    stream.Seek(offset - position, SeekOrigin.Current);
                    position = offset;
                    break;
                }
            }
            else if (chunk == "SSND")
            {
                if (size < 8)
                    throw new DecodeFailure($"the 'SSND' chunk is {size} bytes; it needs at least 8");
                if (ReadFully(ssnd) < 8)
                    throw new DecodeFailure("the header is cut off inside the 'SSND' chunk");
                long dataOffset = BinaryPrimitives.ReadUInt32BigEndian(ssnd);
                if (dataOffset > size - 8)
                    throw new DecodeFailure($"the 'SSND' chunk's data offset {dataOffset} lies beyond its {size} bytes");
                if (Skip(dataOffset) < dataOffset)
                    throw new DecodeFailure("the header is cut off inside the 'SSND' chunk");
                soundBytes = size - 8 - dataOffset;
                if (haveComm)
                    break;
                if (!stream.CanSeek)
                    throw new DecodeFailure("the 'SSND' chunk comes before the 'COMM' chunk, which a stream that cannot seek cannot decode");
                soundOffset = position;
                long skipped = Skip(soundBytes.Value);
                if (skipped < soundBytes)
                    throw new DecodeFailure($"the 'SSND' chunk declares {soundBytes} bytes of audio data but only {skipped} are present");
                SkipPad(size);
            }
            else
            {
                long skipped = Skip(size);
                if (skipped < size)
                    throw new DecodeFailure($"the header is cut off inside chunk '{chunk}' at byte {chunkOffset}, which declares {size} bytes but only {skipped} are present");
                SkipPad(size);
            }
        }

        long frameBytes = (long)width * Channels;
        long declared = framesLeft;
        // The SSND chunk may be longer than COMM's frames (block alignment, padding); never shorter.
        if (declared * frameBytes > soundBytes)
            throw new DecodeFailure($"the 'COMM' chunk declares {declared} frames ({declared * frameBytes} bytes) but the 'SSND' chunk holds {soundBytes} bytes");
        if (streamLength is long length)
        {
            long present = Math.Max(0, length - position);
            if (declared * frameBytes > present)
                throw new DecodeFailure($"the header declares {declared * frameBytes} bytes of audio data but only {present} are present");
            knownFrames = declared;
        }
    }

    private void ParseComm(byte[] comm, bool aifc)
    {
        int channels = BinaryPrimitives.ReadInt16BigEndian(comm);
        long frames = BinaryPrimitives.ReadUInt32BigEndian(comm.AsSpan(2));
        int bits = BinaryPrimitives.ReadInt16BigEndian(comm.AsSpan(6));
        double rate = ExtendedToDouble(comm.AsSpan(8, 10));
        if (channels <= 0)
            throw new DecodeFailure($"the header declares {channels} channels");
        string compression = "NONE";
        if (aifc)
        {
            if (comm.Length < 22)
                throw new DecodeFailure($"the AIFF-C 'COMM' chunk is {comm.Length} bytes; it needs 22 to name its compression");
            compression = FileSignatures.ChunkId(comm.AsSpan(18, 4));
        }
        (coding, width) = compression switch
        {
            "NONE" or "twos" when bits is >= 1 and <= 32 => (Coding.BigEndian, (bits + 7) / 8),
            "sowt" when bits is 16 or 24 or 32 => (Coding.LittleEndian, bits / 8),
            "fl32" or "FL32" => (Coding.Float32, 4),
            "fl64" or "FL64" => (Coding.Float64, 8),
            "ulaw" or "ULAW" => (Coding.MuLaw, 1),
            "alaw" or "ALAW" => (Coding.ALaw, 1),
            "raw " when bits == 8 => (Coding.Unsigned8, 1),
            "NONE" or "twos" or "sowt" or "raw " => throw new DecodeFailure($"{bits} bits per sample is not supported for AIFF compression '{compression}'"),
            _ => throw new DecodeFailure($"unsupported AIFF-C compression '{compression}'; supported: NONE, twos, sowt, fl32, fl64, ulaw, alaw, raw"),
        };
        SampleRate = CheckRate(rate);
        Channels = channels;
        framesLeft = frames;
    }

    /// <summary>The 80-bit IEEE 754 extended-precision number AIFF stores its sample rate in.</summary>
    internal static double ExtendedToDouble(ReadOnlySpan<byte> x)
    {
        int exponent = (x[0] & 0x7F) << 8 | x[1];
        ulong mantissa = BinaryPrimitives.ReadUInt64BigEndian(x[2..]);
        if (exponent == 0 && mantissa == 0)
            return 0;
        if (exponent == 0x7FFF)
            return double.NaN;
        double value = mantissa * Math.Pow(2, exponent - 16383 - 63);
        return (x[0] & 0x80) != 0 ? -value : value;
    }

    protected override int ReadCore(Span<float> destination)
    {
        int frames = (int)Math.Min(destination.Length / Channels, framesLeft);
        if (frames == 0)
            return 0;
        int samples = frames * Channels;
        int need = samples * width;
        if (bytes.Length < need)
            bytes = new byte[need];
        int got = ReadFully(bytes.AsSpan(0, need));
        if (got < need)
            throw new DecodeFailure($"the audio data ends {framesLeft - got / (width * Channels)} frames short of what the header declares");
        framesLeft -= frames;
        var b = bytes.AsSpan(0, need);
        switch (coding)
        {
            case Coding.BigEndian:
            {
                float scale = 1f / (1L << (8 * width - 1));
                for (int i = 0, k = 0; i < samples; i++, k += width)
                {
                    int v = (sbyte)b[k];
                    for (int j = 1; j < width; j++)
                        v = v << 8 | b[k + j];
                    destination[i] = v * scale;
                }
                break;
            }
            case Coding.LittleEndian:
            {
                float scale = 1f / (1L << (8 * width - 1));
                for (int i = 0, k = 0; i < samples; i++, k += width)
                {
                    int v = (sbyte)b[k + width - 1];
                    for (int j = width - 2; j >= 0; j--)
                        v = v << 8 | b[k + j];
                    destination[i] = v * scale;
                }
                break;
            }
            case Coding.Float32:
                for (int i = 0; i < samples; i++)
                    destination[i] = BinaryPrimitives.ReadSingleBigEndian(b[(4 * i)..]);
                break;
            case Coding.Float64:
                for (int i = 0; i < samples; i++)
                    destination[i] = (float)BinaryPrimitives.ReadDoubleBigEndian(b[(8 * i)..]);
                break;
            case Coding.MuLaw:
                for (int i = 0; i < samples; i++)
                    destination[i] = G711SampleProvider.MuLawTable[b[i]];
                break;
            case Coding.ALaw:
                for (int i = 0; i < samples; i++)
                    destination[i] = G711SampleProvider.ALawTable[b[i]];
                break;
            case Coding.Unsigned8:
                for (int i = 0; i < samples; i++)
                    destination[i] = b[i] / 128f - 1f;
                break;
        }
        return samples;
    }

    protected override DecodeFailure NonFinite(float value, long frame, int channel)
        => new(string.Create(CultureInfo.InvariantCulture,
            $"the float data holds {(float.IsNaN(value) ? "NaN" : "an infinite value (or one beyond the float32 range)")} at frame {frame}, channel {channel} ({(double)frame / SampleRate:0.######} s)"));

    private void SkipPad(long size)
    {
        if (size % 2 == 1)
            Skip(1);
    }

    private long Skip(long count)
    {
        long done = 0;
        if (streamLength is long length)
        {
            done = Math.Min(count, Math.Max(0, length - position));
            stream.Seek(done, SeekOrigin.Current);
        }
        else
        {
            Span<byte> scratch = stackalloc byte[4096];
            while (done < count)
            {
                int n = stream.Read(scratch[..(int)Math.Min(scratch.Length, count - done)]);
                if (n == 0)
                    break;
                done += n;
            }
        }
        position += done;
        return done;
    }

    private int ReadFully(Span<byte> destination)
    {
        int done = 0;
        done += stream.ReadAtLeast(destination[done..], destination.Length - done, throwOnEndOfStream: false);
        position += done;
        return done;
    }
}
