using System.Buffers.Binary;
using System.Text;
using NAudio.Wave;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Reads the header of a RIFF/WAVE (or RF64/BW64) stream, checks it, then serves the data chunk as whole frames
/// (an NAudio <see cref="IWaveProvider"/> in the file's own encoding).
/// </summary>
/// <remarks>
/// <para>The chunk list is walked forward only, so non-seekable streams work; NAudio's <c>WaveFileReader</c> needs
/// <see cref="Stream.Length"/> and seeking. The fmt chunk itself is parsed by NAudio
/// (<see cref="WaveFormat.FromFormatChunk"/>, <see cref="WaveExtensionMethods.AsStandardWaveFormat"/>), and its
/// converters turn the bytes into floats.</para>
/// <para>No size read from the header is trusted for an allocation: chunk lengths are checked against the bytes
/// present (when the stream can tell), skipped chunks are never buffered, and the fmt chunk is capped at
/// <see cref="MaxFormatChunkBytes"/>.</para>
/// </remarks>
internal sealed class WavReader : IWaveProvider
{
    /// <summary>Largest fmt chunk accepted: the biggest standard one (MS ADPCM with its coefficients) is 50 bytes.</summary>
    internal const int MaxFormatChunkBytes = 4096;

    /// <summary>Data chunk size written by SoX when its output cannot seek (a pipe): its "unknown length".</summary>
    internal const uint SoxUnknownLength = 0x7FFFF000;

    private const int HeaderBufferBytes = 4096;

    private readonly Stream stream;
    private readonly long streamStart;            // the stream's position when we started (seekable streams)
    private readonly long? streamLength;          // bytes from where we started to the end, when the stream can tell
    private readonly byte[] buffer = new byte[HeaderBufferBytes];
    private int bufferStart, bufferEnd;
    private long position;                        // bytes consumed, counted from where we started
    private bool inData;                          // past the header: reads bypass the buffer (no read-ahead)

    private long? declaredDataBytes;              // null: read to the end of the stream (placeholder size)
    private long dataBytesRead;
    private long frameLimit = long.MaxValue;

    private WavReader(Stream stream)
    {
        this.stream = stream;
        if (stream.CanSeek)
        {
            streamStart = stream.Position;
            streamLength = Math.Max(0, stream.Length - streamStart);
        }
    }

    /// <summary>The format of the bytes served by <see cref="Read"/>: standard PCM, IEEE float, mu-law or A-law.</summary>
    public WaveFormat WaveFormat { get; private set; } = null!;

    /// <summary>Number of interleaved channels in the file.</summary>
    public int Channels { get; private set; }

    /// <summary>The file's sample rate in Hz.</summary>
    public int SampleRate { get; private set; }

    /// <summary>Bytes per frame (all channels of one sample instant).</summary>
    public int BlockAlign { get; private set; }

    /// <summary>True for IEEE float data, whose values are checked for NaN and infinity.</summary>
    public bool IsFloat => WaveFormat.Encoding == WaveFormatEncoding.IeeeFloat;

    /// <summary>
    /// Frames in the data chunk when checked against the bytes actually present (a seekable source); null when they
    /// are only known at the end (a forward-only stream, or a placeholder size).
    /// </summary>
    public long? KnownFrames { get; private set; }

    /// <summary>Reads and checks the header; the stream is left at the first byte of audio data.</summary>
    /// <exception cref="DecodeFailure">The header is missing, cut off, inconsistent or of an unsupported encoding.</exception>
    public static WavReader Open(Stream stream)
    {
        var reader = new WavReader(stream);
        reader.ReadHeader();
        reader.inData = true;
        return reader;
    }

    /// <summary>Reads at most <paramref name="frames"/> more frames from now on (used for a fixed output length).</summary>
    public void LimitFrames(long frames) => frameLimit = frames;

    /// <summary>The samples as interleaved floats, scaled as NAudio does (16-bit <c>s / 32768</c>).</summary>
    public ISampleProvider ToSampleProvider() => WaveFormat.Encoding switch
    {
        WaveFormatEncoding.MuLaw => new G711SampleProvider(this, aLaw: false),
        WaveFormatEncoding.ALaw => new G711SampleProvider(this, aLaw: true),
        _ => WaveExtensionMethods.ToSampleProvider(this),
    };

    /// <summary>
    /// Fills <paramref name="destination"/> with whole frames of audio data (its length must be a multiple of
    /// <see cref="BlockAlign"/>) and returns the bytes written; 0 at the end of the data or of the frame limit.
    /// </summary>
    /// <exception cref="DecodeFailure">The data ends before its declared size, or with a partial frame.</exception>
    public int Read(Span<byte> destination)
    {
        long frames = Math.Min(destination.Length / BlockAlign, frameLimit);
        if (declaredDataBytes is long declared)
            frames = Math.Min(frames, (declared - dataBytesRead) / BlockAlign);
        int wanted = checked((int)frames * BlockAlign);
        int got = ReadFully(destination[..wanted]);
        dataBytesRead += got;
        frameLimit -= got / BlockAlign;
        if (got < wanted)
        {
            if (declaredDataBytes is long size)
                throw new DecodeFailure($"the header declares {size} bytes of audio data but only {dataBytesRead} are present");
            if (got % BlockAlign != 0 && !IsPadByte(got % BlockAlign, dataBytesRead, destination[got - 1]))
                throw new DecodeFailure(
                    $"the audio data ends with a partial frame: {dataBytesRead} bytes is not a whole number of {BlockAlign}-byte frames");
        }
        return got - got % BlockAlign;
    }

    private void ReadHeader()
    {
        Span<byte> riff = stackalloc byte[12];
        int got = ReadFully(riff);
        if (got == 0)
            throw new DecodeFailure("the file is empty (0 bytes)");
        ReadOnlySpan<byte> head = riff[..Math.Min(4, got)];
        bool rf64 = head.SequenceEqual("RF64"u8) || head.SequenceEqual("BW64"u8);
        if (got < 12 && ("RIFF"u8.StartsWith(head) || rf64))
            throw new DecodeFailure($"the header is cut off: the file has only {got} bytes");
        if (!head.SequenceEqual("RIFF"u8) && !rf64)
        {
            string? kind = FileSignatures.Describe(riff[..got]);
            throw new DecodeFailure(kind is null
                ? $"not a WAV file: it starts with {FileSignatures.Hex(head)}, not 'RIFF'"
                : $"not a WAV file: it looks like {kind} (starts with {FileSignatures.Hex(head)})");
        }
        string form = FileSignatures.ChunkId(riff[8..12]);
        if (form != "WAVE")
            throw new DecodeFailure($"a RIFF file of type '{form}', not WAVE audio");

        long? ds64DataBytes = rf64 ? ReadDs64() : null;
        byte[]? fmt = null;
        long? dataOffset = null;
        uint dataSizeField = 0;
        Span<byte> header = stackalloc byte[8];
        while (true)
        {
            long chunkOffset = position;
            got = ReadFully(header);
            if (got < 8)
            {
                string missing = fmt is null ? "'fmt '" : "'data'";
                throw new DecodeFailure(got == 0
                    ? $"no {missing} chunk: the header is cut off after {chunkOffset} bytes"
                    : $"the header is cut off inside a chunk header at byte {chunkOffset}");
            }
            string chunk = FileSignatures.ChunkId(header[..4]);
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (!FileSignatures.IsChunkId(header[..4]))
                throw new DecodeFailure($"the chunk list is corrupt: bytes {FileSignatures.Hex(header[..4])} at byte {chunkOffset} are not a chunk id");

            if (chunk == "fmt ")
            {
                if (fmt is not null)
                    throw new DecodeFailure($"a second 'fmt ' chunk at byte {chunkOffset}");
                if (size < 16)
                    throw new DecodeFailure($"the 'fmt ' chunk is {size} bytes; it needs at least 16");
                if (size > MaxFormatChunkBytes)
                    throw new DecodeFailure($"the 'fmt ' chunk declares {size} bytes, more than the {MaxFormatChunkBytes} any format needs");
                fmt = new byte[size];
                got = ReadFully(fmt);
                if (got < size)
                    throw new DecodeFailure($"the header is cut off: the 'fmt ' chunk declares {size} bytes but only {got} are present");
                SkipPadByte(size);
                ParseFormat(fmt);
                if (dataOffset is long offset)
                {
                    // The data chunk came first (legal, rare); this stream can seek, or we would have stopped there.
                    SeekTo(offset);
                    break;
                }
            }
            else if (chunk == "data")
            {
                dataSizeField = size;
                if (fmt is not null)
                    break;
                if (!stream.CanSeek)
                    throw new DecodeFailure("the 'data' chunk comes before the 'fmt ' chunk, which a stream that cannot seek cannot decode");
                if (IsPlaceholder(size))
                    throw new DecodeFailure("the 'data' chunk comes before the 'fmt ' chunk and its size is not filled in");
                dataOffset = position;
                long dataBytes = ds64DataBytes is long d && size == uint.MaxValue ? d : size;
                long skipped = Skip(dataBytes);
                if (skipped < dataBytes)
                    throw new DecodeFailure($"the header declares {dataBytes} bytes of audio data but only {skipped} are present");
                SkipPadByte(dataBytes);
            }
            else
            {
                SkipChunk(chunk, chunkOffset, size, beforeData: dataOffset is null);
            }
        }

        SetDataSize(dataSizeField, ds64DataBytes);
    }

    /// <summary>Reads the ds64 chunk that must open an RF64 file; returns its 64-bit data size.</summary>
    private long ReadDs64()
    {
        Span<byte> header = stackalloc byte[8];
        if (ReadFully(header) < 8 || FileSignatures.ChunkId(header[..4]) != "ds64")
            throw new DecodeFailure("an RF64 file without the 'ds64' chunk that must follow its header");
        uint size = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (size < 24 || size > MaxFormatChunkBytes)
            throw new DecodeFailure($"the 'ds64' chunk is {size} bytes; it must be 24 to {MaxFormatChunkBytes}");
        Span<byte> ds64 = stackalloc byte[24];
        if (ReadFully(ds64) < 24 || Skip(size - 24) < size - 24)
            throw new DecodeFailure("the header is cut off inside the 'ds64' chunk");
        SkipPadByte(size);
        long dataBytes = BinaryPrimitives.ReadInt64LittleEndian(ds64[8..16]);
        if (dataBytes < 0)
            throw new DecodeFailure($"the 'ds64' chunk declares {dataBytes} bytes of audio data");
        return dataBytes;
    }

    /// <summary>Lowest sample rate accepted: below this a header is damaged rather than audio.</summary>
    internal const int MinSampleRate = 100;

    /// <summary>Highest sample rate accepted: twice DXD's 768 kHz.</summary>
    internal const int MaxSampleRate = 1_536_000;

    private void ParseFormat(byte[] fmt)
    {
        ushort tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt.AsSpan(2));
        uint sampleRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt.AsSpan(4));
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt.AsSpan(12));
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt.AsSpan(14));

        if (channels == 0)
            throw new DecodeFailure("the header declares 0 channels");
        if (channels > short.MaxValue)
            throw new DecodeFailure($"the header declares {channels} channels; at most {short.MaxValue} are supported");
        if (sampleRate == 0)
            throw new DecodeFailure("the header declares a sample rate of 0 Hz");
        // Rates outside audio's range are header damage, and would size the resampler's filter (taps grow with the
        // rate ratio; docs/reliability.md).
        if (sampleRate < MinSampleRate || sampleRate > MaxSampleRate)
            throw new DecodeFailure($"the header declares a sample rate of {sampleRate} Hz; supported rates are {MinSampleRate} to {MaxSampleRate} Hz");

        WaveFormatEncoding encoding = SampleEncoding(fmt, tag);
        int[] supportedBits = encoding switch
        {
            WaveFormatEncoding.Pcm => [8, 16, 24, 32],
            WaveFormatEncoding.IeeeFloat => [32, 64],
            WaveFormatEncoding.MuLaw or WaveFormatEncoding.ALaw => [8],
            _ => throw new DecodeFailure($"unsupported encoding {DescribeTag((ushort)encoding)}{(tag == 0xFFFE ? " in WAVE_FORMAT_EXTENSIBLE" : "")}; "
                                         + "supported: PCM, IEEE float, mu-law and A-law, plain or in WAVE_FORMAT_EXTENSIBLE"),
        };
        if (Array.IndexOf(supportedBits, bits) < 0)
            throw new DecodeFailure($"{bits} bits per sample is not supported for {Name(encoding)} (supported: {string.Join(", ", supportedBits)})");
        int expectedAlign = channels * bits / 8;
        if (blockAlign != expectedAlign)
            throw new DecodeFailure($"block align {blockAlign} is inconsistent with {channels} channels of {bits} bits (expected {expectedAlign})");

        Channels = channels;
        SampleRate = (int)sampleRate;
        BlockAlign = blockAlign;
        int bytesPerSecond = (int)Math.Min(int.MaxValue, (long)sampleRate * blockAlign);
        WaveFormat = encoding == WaveFormatEncoding.Pcm
            ? new WaveFormat(SampleRate, bits, channels)
            : WaveFormat.CreateCustomFormat(encoding, SampleRate, channels, bytesPerSecond, blockAlign, bits);
    }

    /// <summary>The encoding of the samples: the format tag, or for WAVE_FORMAT_EXTENSIBLE the one its sub-format names.</summary>
    private static WaveFormatEncoding SampleEncoding(byte[] fmt, ushort tag)
    {
        if (tag != (ushort)WaveFormatEncoding.Extensible)
            return (WaveFormatEncoding)tag;
        if (fmt.Length < 40)
            throw new DecodeFailure($"the WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is {fmt.Length} bytes; it needs 40 to hold the sub-format");
        WaveFormat parsed;
        using (var reader = new BinaryReader(new MemoryStream(fmt, writable: false)))
            parsed = WaveFormat.FromFormatChunk(reader, fmt.Length);
        WaveFormat standard = parsed.AsStandardWaveFormat();
        if (standard.Encoding != WaveFormatEncoding.Extensible)
            return standard.Encoding;
        // NAudio maps PCM and IEEE float; any other KSDATAFORMAT_SUBTYPE is a format tag inside the base GUID.
        var subFormat = new Guid(fmt.AsSpan(24, 16));
        Span<byte> guid = stackalloc byte[16];
        subFormat.TryWriteBytes(guid);
        ReadOnlySpan<byte> baseTail = [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
        if (guid[2] == 0 && guid[3] == 0 && guid[4..].SequenceEqual(baseTail))
            return (WaveFormatEncoding)BinaryPrimitives.ReadUInt16LittleEndian(guid);
        throw new DecodeFailure($"unsupported WAVE_FORMAT_EXTENSIBLE sub-format {subFormat}");
    }

    private static string Name(WaveFormatEncoding encoding) => encoding switch
    {
        WaveFormatEncoding.Pcm => "PCM",
        WaveFormatEncoding.IeeeFloat => "IEEE float",
        WaveFormatEncoding.MuLaw => "mu-law",
        WaveFormatEncoding.ALaw => "A-law",
        _ => encoding.ToString(),
    };

    private static string DescribeTag(ushort tag)
        => Enum.IsDefined((WaveFormatEncoding)tag) ? $"{(WaveFormatEncoding)tag} (format tag 0x{tag:X4})" : $"format tag 0x{tag:X4}";

    private static bool IsPlaceholder(uint size) => size is 0 or uint.MaxValue or SoxUnknownLength;

    private void SetDataSize(uint sizeField, long? ds64DataBytes)
    {
        long? remaining = streamLength is long length ? length - position : null;
        if (ds64DataBytes is long big && sizeField == uint.MaxValue)
            declaredDataBytes = big;
        else if (!IsPlaceholder(sizeField))
            declaredDataBytes = sizeField;

        if (declaredDataBytes is long declared)
        {
            if (declared % BlockAlign != 0)
                throw new DecodeFailure($"the 'data' chunk size {declared} is not a whole number of {BlockAlign}-byte frames");
            if (remaining is long present && declared > present)
                throw new DecodeFailure($"the header declares {declared} bytes of audio data but only {present} are present");
            if (remaining is not null)
                KnownFrames = declared / BlockAlign;
        }
        else if (remaining is long present)
        {
            // A placeholder size: everything to the end of the stream is audio.
            if (present % BlockAlign != 0 && !IsPadByte(present % BlockAlign, present, value: 0))
                throw new DecodeFailure($"the audio data ends with a partial frame: {present} bytes is not a whole number of {BlockAlign}-byte frames");
            KnownFrames = present / BlockAlign;
        }
    }

    /// <summary>Whether the bytes left after the last whole frame of placeholder-sized data are the RIFF pad byte
    /// that follows odd-sized data: one zero byte after an odd number of bytes.</summary>
    private static bool IsPadByte(long leftover, long totalBytes, byte value) => leftover == 1 && (totalBytes - 1) % 2 == 1 && value == 0;

    private void SkipChunk(string chunk, long chunkOffset, long size, bool beforeData)
    {
        long skipped = Skip(size);
        if (skipped < size && beforeData)
            throw new DecodeFailure($"no 'data' chunk: the header is cut off inside chunk '{chunk}' at byte {chunkOffset}, "
                                    + $"which declares {size} bytes but only {skipped} are present");
        if (size % 2 == 1)
            SkipPadByte(size);
    }

    /// <summary>RIFF pads odd-sized chunks with a zero byte; some writers forget it, so only a zero is skipped (as NAudio does).</summary>
    private void SkipPadByte(long chunkSize)
    {
        if (chunkSize % 2 == 1 && Fill(1) && buffer[bufferStart] == 0)
        {
            bufferStart++;
            position++;
        }
    }

    private void SeekTo(long offset)
    {
        stream.Position = streamStart + offset;
        bufferStart = bufferEnd = 0;
        position = offset;
    }

    /// <summary>Skips up to <paramref name="count"/> bytes; returns how many there were.</summary>
    private long Skip(long count)
    {
        long done = Math.Min(count, bufferEnd - bufferStart);
        bufferStart += (int)done;
        if (done < count)
        {
            if (streamLength is long length)
            {
                long step = Math.Min(count - done, length - (position + done));
                stream.Seek(step, SeekOrigin.Current);
                done += step;
            }
            else
            {
                while (done < count)
                {
                    int n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, count - done));
                    if (n == 0)
                        break;
                    done += n;
                }
            }
        }
        position += done;
        return done;
    }

    /// <summary>Makes at least <paramref name="count"/> bytes available in the buffer; false at the end of the stream.</summary>
    private bool Fill(int count)
    {
        if (bufferEnd - bufferStart >= count)
            return true;
        Buffer.BlockCopy(buffer, bufferStart, buffer, 0, bufferEnd - bufferStart);
        bufferEnd -= bufferStart;
        bufferStart = 0;
        while (bufferEnd < count)
        {
            int n = stream.Read(buffer, bufferEnd, buffer.Length - bufferEnd);
            if (n == 0)
                return false;
            bufferEnd += n;
        }
        return true;
    }

    /// <summary>Reads until <paramref name="destination"/> is full or the stream ends; returns the bytes read.</summary>
    private int ReadFully(Span<byte> destination)
    {
        int done = Math.Min(destination.Length, bufferEnd - bufferStart);
        buffer.AsSpan(bufferStart, done).CopyTo(destination);
        bufferStart += done;
        // Header fields go through the buffer; audio data goes straight into the caller's block, so nothing past
        // the frames asked for is read from the stream.
        if (!inData && done < destination.Length && destination.Length - done < buffer.Length)
        {
            Fill(destination.Length - done);
            int more = Math.Min(destination.Length - done, bufferEnd - bufferStart);
            buffer.AsSpan(bufferStart, more).CopyTo(destination[done..]);
            bufferStart += more;
            done += more;
        }
        done += stream.ReadAtLeast(destination[done..], destination.Length - done, throwOnEndOfStream: false);
        position += done;
        return done;
    }
}

/// <summary>A WAV file as an <see cref="AudioSource"/>: NAudio's converters turn its bytes into floats.</summary>
internal sealed class WavSource : AudioSource
{
    private readonly WavReader wav;
    private readonly ISampleProvider samples;

    public WavSource(WavReader wav)
    {
        this.wav = wav;
        samples = wav.ToSampleProvider();
        Channels = wav.Channels;
        SampleRate = wav.SampleRate;
    }

    public override string FormatName => "WAV";

    public override long? KnownFrames => wav.KnownFrames;

    public override void LimitFrames(long frames)
    {
        base.LimitFrames(frames);
        wav.LimitFrames(frames);
    }

    protected override int ReadCore(Span<float> destination) => samples.Read(destination);

    protected override DecodeFailure NonFinite(float value, long frame, int channel)
    {
        string what = float.IsNaN(value) ? "NaN"
            : wav.WaveFormat.BitsPerSample == 64 ? "an infinite value (or one beyond the float32 range)"
            : value > 0 ? "+Infinity" : "-Infinity";
        return new DecodeFailure(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"the float data holds {what} at frame {frame}, channel {channel} (sample index {frame * Channels + channel}, {(double)frame / SampleRate:0.######} s)"));
    }
}
