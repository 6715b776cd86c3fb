using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// A managed FLAC decoder (native FLAC streams, <c>fLaC</c>): STREAMINFO, frames with fixed, LPC, constant and
/// verbatim subframes, Rice-coded residuals (both parameter widths, escapes), 4 to 32 bits per sample, 1 to 8
/// channels including left/side, right/side and mid/side stereo, wasted bits. Follows RFC 9639.
/// </summary>
/// <remarks>
/// <para>Why our own: no managed FLAC decoder is served from the package registry this project uses, and the format
/// is small. It is checked bit for bit against the reference decoder (<c>flac -d</c>) in the tests.</para>
/// <para>Integrity: every frame header's CRC-8 and every frame's CRC-16 are checked, so a corrupt frame fails instead
/// of decoding to noise; when the whole stream is decoded and STREAMINFO carries an MD5 signature, the decoded
/// samples are hashed and compared (a fixed duration that stops before the end cannot be checked). A stream that ends
/// before the sample count STREAMINFO declares fails.</para>
/// <para>Memory: a frame is decoded from a window of the bytes read so far, which grows only as data arrives and is
/// capped at <see cref="MaxFrameBytes"/>; nothing is sized from a header before the data is there.</para>
/// </remarks>
internal sealed class FlacReader : BlockSource
{
    /// <summary>Largest frame accepted: 8 channels × 65535 samples × 33 bits verbatim is 2.2 MB; anything longer is corrupt.</summary>
    internal const int MaxFrameBytes = 3 << 20;

    private const int ReadChunk = 1 << 16;

    private readonly Stream stream;
    private readonly int bitsPerSample;
    private readonly long totalSamples;        // 0: unknown
    private readonly byte[] md5;               // all zeros: none
    private readonly int maxBlockSize;
    private readonly IncrementalHash? hash;

    private byte[] window = new byte[ReadChunk + 8]; // +8: the bit reader loads 8 bytes at a time
    private int windowStart, windowEnd;
    private long windowOffset;                 // stream offset of window[0]
    private bool streamEnded;

    private long[][] channelSamples = [];
    private byte[] hashBytes = [];
    private long framesDecoded;

    private FlacReader(Stream stream)
    {
        this.stream = stream;
        Span<byte> magic = stackalloc byte[4];
        if (ReadExactly(magic) < 4 || !magic.SequenceEqual("fLaC"u8))
            throw new DecodeFailure("not a FLAC stream: it does not start with 'fLaC'");
        bool last = false, haveInfo = false;
        md5 = new byte[16];
        Span<byte> header = stackalloc byte[4];
        Span<byte> info = stackalloc byte[34];
        while (!last)
        {
            long at = Offset;
            if (ReadExactly(header) < 4)
                throw new DecodeFailure($"the header is cut off in its metadata at byte {at}");
            last = (header[0] & 0x80) != 0;
            int type = header[0] & 0x7F;
            int length = header[1] << 16 | header[2] << 8 | header[3];
            if (!haveInfo)
            {
                if (type != 0 || length != 34)
                    throw new DecodeFailure($"the first metadata block is of type {type} and {length} bytes; a FLAC stream must open with a 34-byte STREAMINFO");
                if (ReadExactly(info) < 34)
                    throw new DecodeFailure("the header is cut off inside STREAMINFO");
                haveInfo = true;
                continue;
            }
            if (type == 127)
                throw new DecodeFailure($"invalid metadata block type 127 at byte {at}");
            long skipped = Skip(length);
            if (skipped < length)
                throw new DecodeFailure($"the header is cut off: metadata block of type {type} at byte {at} declares {length} bytes but only {skipped} are present");
        }

        int minBlock = BinaryPrimitives.ReadUInt16BigEndian(info);
        maxBlockSize = BinaryPrimitives.ReadUInt16BigEndian(info[2..]);
        ulong packed = BinaryPrimitives.ReadUInt64BigEndian(info[10..]);
        int rate = (int)(packed >> 44);
        Channels = (int)(packed >> 41 & 7) + 1;
        bitsPerSample = (int)(packed >> 36 & 31) + 1;
        totalSamples = (long)(packed & 0xF_FFFF_FFFF);
        info[18..34].CopyTo(md5);
        if (minBlock < 16 || maxBlockSize < minBlock)
            throw new DecodeFailure($"STREAMINFO declares block sizes {minBlock} to {maxBlockSize}; they must be at least 16 and in order");
        if (bitsPerSample < 4)
            throw new DecodeFailure($"STREAMINFO declares {bitsPerSample} bits per sample; FLAC needs 4 to 32");
        SampleRate = CheckRate(rate);
        if (md5.AsSpan().ContainsAnyExcept((byte)0))
            hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
    }

    public override string FormatName => "FLAC";

    /// <summary>Opens the stream (at "fLaC") and reads its metadata.</summary>
    public static FlacReader Open(Stream stream) => new(stream);

    public override void Dispose() => hash?.Dispose();

    private long Offset => windowOffset + windowStart;

    protected override int DecodeBlock(ref float[] buffer)
    {
        if (totalSamples != 0 && framesDecoded >= totalSamples)
            return 0; // anything after the declared samples (an ID3v1 tag, junk) is not audio
        int available = Fill(2);
        if (available == 0 || (totalSamples == 0 && IsId3v1Tag()))
            return 0;
        long frameOffset = Offset;
        if (available < 2 || window[windowStart] != 0xFF || (window[windowStart + 1] & 0xFE) != 0xF8)
            throw new DecodeFailure($"lost frame sync at byte {frameOffset}: expected a FLAC frame (FF F8), found {FileSignatures.Hex(window.AsSpan(windowStart, Math.Min(available, 4)))}");

        // The header is at most 16 bytes; the frame's size is bounded once the header says what it holds.
        Fill(16);
        var bits = new BitReader(window, windowStart, windowEnd);
        var frame = ReadFrameHeader(ref bits, frameOffset);
        int bound = (int)Math.Min(MaxFrameBytes, 64 + (long)Channels * (16 + frame.BlockSize * 5L));
        int headerBits = bits.BitPosition - windowStart * 8;
        Fill(bound); // may move the window's bytes: positions are kept relative to the frame's start
        bits = new BitReader(window, windowStart, windowEnd) { BitPosition = windowStart * 8 + headerBits };

        if (channelSamples.Length != Channels || channelSamples[0].Length < frame.BlockSize)
            channelSamples = Enumerable.Range(0, Channels).Select(_ => new long[Math.Max(frame.BlockSize, maxBlockSize)]).ToArray();
        for (int c = 0; c < Channels; c++)
        {
            int extraBit = frame.Assignment switch
            {
                8 => c == 1 ? 1 : 0,   // left/side: the side channel is one bit wider
                9 => c == 0 ? 1 : 0,   // side/right
                10 => c == 1 ? 1 : 0,  // mid/side
                _ => 0,
            };
            ReadSubframe(ref bits, channelSamples[c].AsSpan(0, frame.BlockSize), frame.BitsPerSample + extraBit, frameOffset);
        }
        bits.AlignToByte();
        int crcAt = bits.BitPosition >> 3;
        if (crcAt + 2 > windowEnd)
            throw new DecodeFailure(Truncated(frameOffset));
        ushort crc = Crc16(window.AsSpan(windowStart, crcAt - windowStart));
        if (crc != BinaryPrimitives.ReadUInt16BigEndian(window.AsSpan(crcAt)))
            throw new DecodeFailure($"the frame at byte {frameOffset} is corrupt (CRC-16 mismatch)");
        windowStart = crcAt + 2;

        Decorrelate(frame.Assignment, frame.BlockSize);
        if (hash is not null)
            Hash(frame.BlockSize);

        int samples = frame.BlockSize * Channels;
        if (buffer.Length < samples)
            buffer = new float[samples];
        float scale = 1f / (1L << (bitsPerSample - 1));
        for (int c = 0; c < Channels; c++)
        {
            var source = channelSamples[c];
            for (int i = 0, k = c; i < frame.BlockSize; i++, k += Channels)
                buffer[k] = source[i] * scale;
        }
        framesDecoded += frame.BlockSize;
        return frame.BlockSize;
    }

    protected override void OnEnd(long decoded)
    {
        if (totalSamples != 0 && decoded < totalSamples)
            throw new DecodeFailure($"STREAMINFO declares {totalSamples} samples but the frames hold only {decoded}: the stream is cut off");
        // Reached only when every frame was decoded: a fixed duration that stops earlier never gets here.
        if (hash is not null)
        {
            Span<byte> actual = stackalloc byte[16];
            hash.GetHashAndReset(actual);
            if (!actual.SequenceEqual(md5))
                throw new DecodeFailure($"the decoded audio does not match the MD5 signature in STREAMINFO ({Convert.ToHexStringLower(md5)}, decoded {Convert.ToHexStringLower(actual)})");
        }
    }

    private readonly record struct FrameHeader(int BlockSize, int Assignment, int BitsPerSample);

    private FrameHeader ReadFrameHeader(ref BitReader bits, long frameOffset)
    {
        bits.Skip(15);                               // sync (14 bits) and a reserved bit, checked by the caller
        bits.Skip(1);                                // blocking strategy: fixed or variable, not needed to decode
        int blockCode = (int)bits.Read(4);
        int rateCode = (int)bits.Read(4);
        int assignment = (int)bits.Read(4);
        int sizeCode = (int)bits.Read(3);
        if (bits.Read(1) != 0)
            throw Corrupt(frameOffset, "a reserved header bit is set");
        // The frame or sample number, UTF-8 coded (1 to 7 bytes).
        int first = (int)bits.Read(8);
        int more = first < 0x80 ? 0 : first >= 0xFE ? 6 : BitOperations.LeadingZeroCount((uint)~first << 24) - 1;
        if (more < 0 || (first & 0xC0) == 0x80)
            throw Corrupt(frameOffset, "its frame number is not valid UTF-8 coding");
        for (int i = 0; i < more; i++)
            if ((bits.Read(8) & 0xC0) != 0x80)
                throw Corrupt(frameOffset, "its frame number is not valid UTF-8 coding");
        int blockSize = blockCode switch
        {
            0 => throw Corrupt(frameOffset, "its block size code is reserved"),
            1 => 192,
            <= 5 => 576 << (blockCode - 2),
            6 => (int)bits.Read(8) + 1,
            7 => (int)bits.Read(16) + 1,
            _ => 256 << (blockCode - 8),
        };
        int rate = rateCode switch
        {
            0 => SampleRate,
            1 => 88200, 2 => 176400, 3 => 192000, 4 => 8000, 5 => 16000, 6 => 22050, 7 => 24000,
            8 => 32000, 9 => 44100, 10 => 48000, 11 => 96000,
            12 => (int)bits.Read(8) * 1000,
            13 => (int)bits.Read(16),
            14 => (int)bits.Read(16) * 10,
            _ => throw Corrupt(frameOffset, "its sample rate code is invalid"),
        };
        int sampleBits = sizeCode switch
        {
            0 => bitsPerSample,
            1 => 8, 2 => 12, 4 => 16, 5 => 20, 6 => 24, 7 => 32,
            _ => throw Corrupt(frameOffset, "its sample size code is reserved"),
        };
        int headerEnd = bits.BitPosition >> 3;
        if (headerEnd >= windowEnd)
            throw new DecodeFailure(Truncated(frameOffset));
        if (Crc8(window.AsSpan(windowStart, headerEnd - windowStart)) != (byte)bits.Read(8))
            throw Corrupt(frameOffset, "its header fails the CRC-8 check");
        if (assignment > 10)
            throw Corrupt(frameOffset, $"its channel assignment {assignment} is reserved");
        int channels = assignment < 8 ? assignment + 1 : 2;
        // A stream whose format changes between frames is legal but rare; it cannot be one AudioBuffer.
        if (channels != Channels || rate != SampleRate || sampleBits != bitsPerSample)
            throw new DecodeFailure($"the frame at byte {frameOffset} has {channels} channels, {rate} Hz, {sampleBits} bits where STREAMINFO "
                                    + $"declares {Channels}, {SampleRate} Hz, {bitsPerSample}: streams whose format changes are not supported");
        if (blockSize > maxBlockSize && blockSize > 65535)
            throw Corrupt(frameOffset, $"its block size {blockSize} exceeds FLAC's 65535");
        return new FrameHeader(blockSize, assignment, sampleBits);
    }

    private void ReadSubframe(ref BitReader bits, Span<long> output, int sampleBits, long frameOffset)
    {
        if (bits.Read(1) != 0)
            throw Corrupt(frameOffset, "a subframe's padding bit is set");
        int type = (int)bits.Read(6);
        int wasted = 0;
        if (bits.Read(1) == 1)
        {
            wasted = bits.ReadUnary(sampleBits) + 1;
            if (wasted >= sampleBits)
                throw Corrupt(frameOffset, $"a subframe declares {wasted} wasted bits of {sampleBits}");
            sampleBits -= wasted;
        }
        int blockSize = output.Length;
        if (type == 0)
        {
            output.Fill(bits.ReadSigned(sampleBits));
        }
        else if (type == 1)
        {
            for (int i = 0; i < blockSize; i++)
                output[i] = bits.ReadSigned(sampleBits);
        }
        else if (type is >= 8 and <= 12)
        {
            int order = type - 8;
            if (order > blockSize)
                throw Corrupt(frameOffset, $"a fixed predictor of order {order} is longer than the block ({blockSize})");
            for (int i = 0; i < order; i++)
                output[i] = bits.ReadSigned(sampleBits);
            ReadResidual(ref bits, output, order, frameOffset);
            RestoreFixed(output, order);
        }
        else if (type >= 32)
        {
            int order = type - 31;
            if (order > blockSize)
                throw Corrupt(frameOffset, $"an LPC predictor of order {order} is longer than the block ({blockSize})");
            for (int i = 0; i < order; i++)
                output[i] = bits.ReadSigned(sampleBits);
            int precision = (int)bits.Read(4) + 1;
            if (precision == 16)
                throw Corrupt(frameOffset, "an LPC subframe's coefficient precision is the invalid value 15");
            int shift = (int)bits.ReadSigned(5);
            if (shift < 0)
                throw Corrupt(frameOffset, $"an LPC subframe declares a negative shift ({shift})");
            Span<long> coefficients = stackalloc long[order];
            for (int i = 0; i < order; i++)
                coefficients[i] = bits.ReadSigned(precision);
            ReadResidual(ref bits, output, order, frameOffset);
            RestoreLpc(output, coefficients, shift);
        }
        else
        {
            throw Corrupt(frameOffset, $"subframe type {type} is reserved");
        }
        if (wasted > 0)
            for (int i = 0; i < blockSize; i++)
                output[i] <<= wasted;
    }

    private static void ReadResidual(ref BitReader bits, Span<long> output, int order, long frameOffset)
    {
        int method = (int)bits.Read(2);
        if (method > 1)
            throw Corrupt(frameOffset, $"residual coding method {method} is reserved");
        int parameterBits = method == 0 ? 4 : 5;
        int escape = (1 << parameterBits) - 1;
        int partitionOrder = (int)bits.Read(4);
        int blockSize = output.Length;
        int partitionSize = blockSize >> partitionOrder;
        if (partitionSize << partitionOrder != blockSize || partitionSize < order)
            throw Corrupt(frameOffset, $"residual partition order {partitionOrder} does not fit a block of {blockSize} with predictor order {order}");
        int i = order;
        for (int p = 0; p < 1 << partitionOrder; p++)
        {
            int end = (p + 1) * partitionSize;
            int parameter = (int)bits.Read(parameterBits);
            if (parameter == escape)
            {
                int raw = (int)bits.Read(5);
                for (; i < end; i++)
                    output[i] = raw == 0 ? 0 : bits.ReadSigned(raw);
            }
            else
            {
                bits.ReadRice(output[i..end], parameter);
                i = end;
            }
        }
    }

    /// <summary>The fixed polynomial predictors of orders 0 to 4 (RFC 9639 section 9.2.5), applied in place.</summary>
    private static void RestoreFixed(Span<long> x, int order)
    {
        switch (order)
        {
            case 1: for (int i = 1; i < x.Length; i++) x[i] += x[i - 1]; break;
            case 2: for (int i = 2; i < x.Length; i++) x[i] += 2 * x[i - 1] - x[i - 2]; break;
            case 3: for (int i = 3; i < x.Length; i++) x[i] += 3 * x[i - 1] - 3 * x[i - 2] + x[i - 3]; break;
            case 4: for (int i = 4; i < x.Length; i++) x[i] += 4 * x[i - 1] - 6 * x[i - 2] + 4 * x[i - 3] - x[i - 4]; break;
        }
    }

    /// <summary>LPC prediction: x[i] += (Σ c[j] · x[i − 1 − j]) >> shift, in place.</summary>
    private static void RestoreLpc(Span<long> x, ReadOnlySpan<long> c, int shift)
    {
        int order = c.Length;
        for (int i = order; i < x.Length; i++)
        {
            long sum = 0;
            var past = x.Slice(i - order, order);
            for (int j = 0; j < order; j++)
                sum += c[j] * past[order - 1 - j];
            x[i] += sum >> shift;
        }
    }

    private void Decorrelate(int assignment, int blockSize)
    {
        if (assignment < 8)
            return;
        var a = channelSamples[0].AsSpan(0, blockSize);
        var b = channelSamples[1].AsSpan(0, blockSize);
        switch (assignment)
        {
            case 8: // left, side = left − right
                for (int i = 0; i < blockSize; i++) b[i] = a[i] - b[i];
                break;
            case 9: // side, right
                for (int i = 0; i < blockSize; i++) a[i] += b[i];
                break;
            case 10: // mid = (left + right) >> 1 without its low bit, which the side's parity restores
                for (int i = 0; i < blockSize; i++)
                {
                    long mid = a[i] << 1 | (b[i] & 1), side = b[i];
                    a[i] = (mid + side) >> 1;
                    b[i] = (mid - side) >> 1;
                }
                break;
        }
    }

    /// <summary>Feeds the frame to the MD5 as FLAC defines it: interleaved, little-endian, whole bytes per sample.</summary>
    private void Hash(int blockSize)
    {
        int width = (bitsPerSample + 7) / 8;
        int bytes = blockSize * Channels * width;
        if (hashBytes.Length < bytes)
            hashBytes = new byte[bytes];
        var output = hashBytes.AsSpan(0, bytes);
        int stride = Channels * width;
        for (int c = 0; c < Channels; c++)
        {
            var source = channelSamples[c];
            if (width == 2)
            {
                for (int i = 0, k = 2 * c; i < blockSize; i++, k += stride)
                    BinaryPrimitives.WriteInt16LittleEndian(output[k..], (short)source[i]);
                continue;
            }
            for (int i = 0, k = c * width; i < blockSize; i++, k += stride)
            {
                long v = source[i];
                for (int b = 0; b < width; b++)
                    output[k + b] = (byte)(v >> (8 * b));
            }
        }
        hash!.AppendData(hashBytes, 0, bytes);
    }

    private bool IsId3v1Tag() => Fill(128) == 128 && window.AsSpan(windowStart, 3).SequenceEqual("TAG"u8) && Fill(129) == 128;

    private static DecodeFailure Corrupt(long frameOffset, string what) => new($"the frame at byte {frameOffset} is corrupt: {what}");

    private static string Truncated(long frameOffset) => $"the stream is cut off inside the frame at byte {frameOffset}";

    /// <summary>Makes up to <paramref name="count"/> bytes from the current position available in the window;
    /// returns how many are (fewer only at the end of the stream).</summary>
    private int Fill(int count)
    {
        while (windowEnd - windowStart < count && !streamEnded)
        {
            if (windowStart > 0)
            {
                Buffer.BlockCopy(window, windowStart, window, 0, windowEnd - windowStart);
                windowOffset += windowStart;
                windowEnd -= windowStart;
                windowStart = 0;
            }
            if (window.Length - 8 - windowEnd < ReadChunk / 4)
                Array.Resize(ref window, Math.Min(2 * (window.Length - 8), MaxFrameBytes + ReadChunk) + 8);
            int n = stream.Read(window, windowEnd, Math.Min(ReadChunk, window.Length - 8 - windowEnd));
            if (n == 0)
                streamEnded = true;
            windowEnd += n;
        }
        window.AsSpan(windowEnd, 8).Clear(); // the bit reader may load past the end; it never uses those bytes
        return Math.Min(count, windowEnd - windowStart);
    }

    private int ReadExactly(Span<byte> destination)
    {
        int got = Fill(destination.Length);
        window.AsSpan(windowStart, got).CopyTo(destination);
        windowStart += got;
        return got;
    }

    /// <summary>Skips a metadata block without buffering it (pictures can be megabytes); returns the bytes skipped.</summary>
    private long Skip(long count)
    {
        long done = Math.Min(count, windowEnd - windowStart);
        windowStart += (int)done;
        if (done == count)
            return done;
        windowOffset += windowEnd;
        windowStart = windowEnd = 0;
        if (stream.CanSeek)
        {
            long step = Math.Min(count - done, Math.Max(0, stream.Length - stream.Position));
            stream.Seek(step, SeekOrigin.Current);
            windowOffset += step;
            return done + step;
        }
        while (done < count)
        {
            int n = stream.Read(window, 0, (int)Math.Min(window.Length - 8, count - done));
            if (n == 0)
                break;
            done += n;
            windowOffset += n;
        }
        return done;
    }

    private static readonly byte[] Crc8Table = BuildCrc8Table();
    private static readonly ushort[] Crc16Table = BuildCrc16Table();

    private static byte Crc8(ReadOnlySpan<byte> data)
    {
        byte crc = 0;
        foreach (byte b in data)
            crc = Crc8Table[crc ^ b];
        return crc;
    }

    private static ushort Crc16(ReadOnlySpan<byte> data)
    {
        ushort crc = 0;
        foreach (byte b in data)
            crc = (ushort)(crc << 8 ^ Crc16Table[(crc >> 8) ^ b]);
        return crc;
    }

    private static byte[] BuildCrc8Table()
    {
        var table = new byte[256];
        for (int i = 0; i < 256; i++)
        {
            int c = i;
            for (int b = 0; b < 8; b++)
                c = (c & 0x80) != 0 ? (c << 1) ^ 0x07 : c << 1;
            table[i] = (byte)c;
        }
        return table;
    }

    private static ushort[] BuildCrc16Table()
    {
        var table = new ushort[256];
        for (int i = 0; i < 256; i++)
        {
            int c = i << 8;
            for (int b = 0; b < 8; b++)
                c = (c & 0x8000) != 0 ? (c << 1) ^ 0x8005 : c << 1;
            table[i] = (ushort)c;
        }
        return table;
    }

    /// <summary>
    /// Big-endian bit reader over the frame window. Each read loads 8 bytes at once (the window has 8 bytes of slack
    /// past its end); reading past the data throws, so a cut-off or lying frame cannot run on.
    /// </summary>
    private ref struct BitReader(byte[] data, int start, int end)
    {
        private readonly byte[] data = data;
        private readonly long endBit = (long)end * 8;

        public int BitPosition { get; set; } = start * 8;

        public ulong Read(int count)
        {
            if (BitPosition + count > endBit)
                throw new DecodeFailure("the stream is cut off inside a frame");
            ulong word = BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(BitPosition >> 3)) << (BitPosition & 7);
            BitPosition += count;
            if (count <= 56)
                return count == 0 ? 0 : word >> (64 - count);
            throw new InvalidOperationException("reads are at most 56 bits");
        }

        public long ReadSigned(int count) => count == 0 ? 0 : (long)(Read(count) << (64 - count)) >> (64 - count);

        public void Skip(int count) => Read(count);

        public void AlignToByte() => BitPosition = (BitPosition + 7) & ~7;

        /// <summary>Counts zero bits up to a one bit (consumed); at most <paramref name="max"/> zeros are allowed.</summary>
        public int ReadUnary(int max)
        {
            int zeros = 0;
            while (Read(1) == 0)
                if (++zeros > max)
                    throw new DecodeFailure("a unary code in a frame is too long: the frame is corrupt");
            return zeros;
        }

        /// <summary>Rice-coded, zigzag-signed residuals with parameter <paramref name="k"/>.</summary>
        public void ReadRice(Span<long> output, int k)
        {
            int position = BitPosition;
            long limit = endBit;
            var bytes = data.AsSpan();
            for (int i = 0; i < output.Length; i++)
            {
                // Quotient: zeros up to a one, 57 or more bits at a time from one 8-byte load.
                long quotient = 0;
                while (true)
                {
                    ulong word = BinaryPrimitives.ReadUInt64BigEndian(bytes[(position >> 3)..]) << (position & 7);
                    int available = 64 - (position & 7);
                    int zeros = BitOperations.LeadingZeroCount(word);
                    if (zeros < available)
                    {
                        quotient += zeros;
                        position += zeros + 1;
                        break;
                    }
                    quotient += available;
                    position += available;
                    if (position > limit)
                        throw new DecodeFailure("the stream is cut off inside a frame");
                }
                ulong low = 0;
                if (k > 0)
                {
                    low = BinaryPrimitives.ReadUInt64BigEndian(bytes[(position >> 3)..]) << (position & 7) >> (64 - k);
                    position += k;
                }
                if (position > limit)
                    throw new DecodeFailure("the stream is cut off inside a frame");
                ulong folded = (ulong)quotient << k | low;
                output[i] = (long)(folded >> 1) ^ -(long)(folded & 1);
            }
            BitPosition = position;
        }
    }
}
