using System.Buffers.Binary;
using NLayer;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// MPEG audio (MP3; layers I and II too): frames split here, decoded by NLayer's frame decoder, with LAME's gapless
/// information applied. The encoder delay and the decoder's 529-sample delay are dropped at the start and the padding
/// at the end, as ffmpeg and LAME's own decoder do, so a tagged file holds exactly the samples that were encoded.
/// </summary>
/// <remarks>
/// <para>Why the frames are split here rather than by NLayer's <c>MpegFile</c>: it needs a stream that can seek (our
/// decoder reads pipes too), and it gives no hold on the Xing/Info frame, which carries the LAME tag and is not
/// audio (it is skipped, as ffmpeg skips it).</para>
/// <para>MP3 has no container: bytes between frames that are not a frame of the same stream (tags, junk) are
/// skipped until the next frame header that matches the first frame's version, layer and rate, as every MP3 decoder
/// does. A file whose LAME tag declares more samples than its frames hold fails (it is cut off); files without the
/// tag (other encoders) decode every frame, untrimmed, as ffmpeg does.</para>
/// <para>8 kHz files (MPEG-2.5) whose frames use short blocks are refused (<see cref="HasWideShortBlock"/>): NLayer
/// decodes those frames wrongly, and wrong audio is worse than none.</para>
/// </remarks>
internal sealed class Mp3Source : BlockSource
{
    /// <summary>Samples of delay in the standard MPEG-1 layer III decoder (its synthesis filterbank and overlap),
    /// which LAME's delay figure does not include: 528 + 1 (LAME's and ffmpeg's constant).</summary>
    internal const int DecoderDelay = 529;

    /// <summary>Largest MPEG audio frame: layer II at 384 kbit/s and 32 kHz is 1728 bytes; layer I 4 × 12 × 448 / 32 + 4.</summary>
    private const int MaxFrameBytes = 2 * 1441 + 4;

    /// <summary>Bytes searched for the first frame: past this, the file is not MPEG audio.</summary>
    private const int MaxLeadingJunk = 1 << 16;

    private readonly Stream stream;
    private readonly MpegFrameDecoder decoder = new();
    private readonly byte[] window = new byte[1 << 16];
    private int windowStart, windowEnd;
    private bool streamEnded;
    private long consumedBefore;          // stream bytes dropped from the window before windowStart's origin (for messages)
    private readonly uint streamHeader;   // the first frame's header: later frames must agree on version, layer and rate
    private readonly Frame frame = new();
    private long declaredEnd = -1;

    private Mp3Source(Stream stream)
    {
        this.stream = stream;
        if (!FindFrame(MaxLeadingJunk, any: true))
            throw new DecodeFailure("no MPEG audio frame found");
        streamHeader = BinaryPrimitives.ReadUInt32BigEndian(window.AsSpan(windowStart));
        Channels = (streamHeader >> 6 & 3) == 3 ? 1 : 2;
        SampleRate = CheckRate(Frame.Rate(streamHeader));
        int length = Fill(Frame.Length(streamHeader));
        var first = window.AsSpan(windowStart, length);
        var (delay, padding, frames, samplesPerFrame) = ReadLameTag(first);
        if (frames is not null || IsVbri(first))
            windowStart += length; // the Xing/Info (or VBRI) frame is not audio
        if (delay is long d && padding is long p && frames is long n)
        {
            LeadingFrames = d + DecoderDelay;
            declaredEnd = LeadingFrames + Math.Max(0, n * samplesPerFrame - d - p);
            EndFrame = declaredEnd;
        }
    }

    public override string FormatName => "MP3";

    /// <summary>Opens an MPEG audio stream at its first frame (after any ID3v2 tag).</summary>
    public static Mp3Source Open(Stream stream) => new(stream);

    protected override int DecodeBlock(ref float[] buffer)
    {
        if (!FindFrame(int.MaxValue, any: false))
            return 0;
        uint header = BinaryPrimitives.ReadUInt32BigEndian(window.AsSpan(windowStart));
        int length = Frame.Length(header);
        if (Fill(length) < length)
            return 0; // a cut-off last frame is not decoded (the gapless count, when present, notices)
        long offset = consumedBefore + windowStart;
        if (Frame.Rate(header) == 8000 && HasWideShortBlock(header, window.AsSpan(windowStart, length)))
            throw new DecodeFailure($"the 8 kHz MP3 frame at byte {offset} has short blocks, which are not supported: NLayer 3.0.1 "
                                    + "decodes them wrongly (it ends their first Huffman region at line 36, where 8 kHz needs 72)");
        frame.Set(header, window.AsSpan(windowStart, length));
        windowStart += length;
        if (buffer.Length < 2 * 1152)
            buffer = new float[2 * 1152];
        int got;
        try
        {
            got = decoder.DecodeFrame(frame, buffer.AsSpan());
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new DecodeFailure($"the MP3 frame at byte {offset} is corrupt ({e.Message})", e);
        }
        int frames = got / Channels;
        if (frames == 0)
            throw new DecodeFailure($"the MP3 frame at byte {offset} decoded to nothing");
        return frames;
    }

    protected override void OnEnd(long decoded)
    {
        if (declaredEnd >= 0 && decoded < declaredEnd)
            throw new DecodeFailure($"the LAME tag declares {declaredEnd - LeadingFrames} samples but the frames hold only {Math.Max(0, decoded - LeadingFrames)}: the stream is cut off");
    }

    /// <summary>
    /// Moves the window to the next frame header that matches the stream (or, with <paramref name="any"/>, to any valid
    /// header that the next frame confirms), skipping at most <paramref name="maxSkip"/> bytes; false when there is none.
    /// </summary>
    private bool FindFrame(long maxSkip, bool any)
    {
        for (long skipped = 0; ; skipped++)
        {
            if (Fill(4) < 4)
                return false;
            uint header = BinaryPrimitives.ReadUInt32BigEndian(window.AsSpan(windowStart));
            if (Frame.IsValid(header) && (any ? FollowedByFrame(header) : Matches(header)))
                return true;
            if (skipped >= maxSkip)
                return false;
            windowStart++;
        }
    }

    /// <summary>The first frame is trusted when the next one follows where its length says (or the file ends there).</summary>
    private bool FollowedByFrame(uint header)
    {
        int length = Frame.Length(header);
        int have = Fill(length + 4);
        if (have < length + 4)
            return have == length; // a single frame that ends the file
        uint next = BinaryPrimitives.ReadUInt32BigEndian(window.AsSpan(windowStart + length));
        return Frame.IsValid(next) && (next & 0xFFFE0C00) == (header & 0xFFFE0C00);
    }

    /// <summary>Same version, layer and sample rate as the first frame; the channel mode may not change either.</summary>
    private bool Matches(uint header)
        => (header & 0xFFFE0C00) == (streamHeader & 0xFFFE0C00) && ((header >> 6 & 3) == 3) == (Channels == 1);

    /// <summary>Makes <paramref name="count"/> bytes from <c>windowStart</c> available when the stream has them;
    /// returns how many are. May move the window's contents to its start.</summary>
    private int Fill(int count)
    {
        if (windowEnd - windowStart < count && !streamEnded)
        {
            if (windowStart + count > window.Length)
            {
                Buffer.BlockCopy(window, windowStart, window, 0, windowEnd - windowStart);
                windowEnd -= windowStart;
                consumedBefore += windowStart;
                windowStart = 0;
            }
            while (windowEnd - windowStart < count && !streamEnded)
            {
                // Small reads: a fixed duration then reads little past the frames it needs.
                int n = stream.Read(window, windowEnd, Math.Min(window.Length - windowEnd, Math.Max(count - (windowEnd - windowStart), 4096)));
                if (n == 0)
                    streamEnded = true;
                windowEnd += n;
            }
        }
        return Math.Min(count, windowEnd - windowStart);
    }

    /// <summary>
    /// Whether a layer III frame (MPEG-2/2.5: one granule) has a short-block granule whose Huffman-coded values reach
    /// past line 36. NLayer starts the second Huffman region of short blocks at line 36 at every rate; at 8 kHz the
    /// short scalefactor bands are twice as wide and it starts at 72 (ISO 11172-3 as ffmpeg and mpg123 read it), so
    /// such a granule decodes with the wrong tables: measured 16.9 dB from ffmpeg on the fixture, noise in the frames
    /// concerned. Granules whose values end by line 36 are unaffected.
    /// </summary>
    private bool HasWideShortBlock(uint header, ReadOnlySpan<byte> bytes)
    {
        if (Frame.LayerOf(header) != 3 || Frame.IsMpeg1(header))
            return false;
        int at = 4 + ((header & 0x10000) == 0 ? 2 : 0);
        if (bytes.Length < at + 17)
            return false;
        int position = 0;
        int Read(ReadOnlySpan<byte> side, int count)
        {
            int value = 0;
            for (int i = 0; i < count; i++, position++)
                value = value << 1 | (side[position >> 3] >> (7 - (position & 7)) & 1);
            return value;
        }
        var side = bytes[at..];
        Read(side, 8 + Channels);                 // main_data_begin, private bits
        for (int c = 0; c < Channels; c++)
        {
            Read(side, 12);                       // part2_3_length
            int bigValues = Read(side, 9);
            Read(side, 8 + 9);                    // global_gain, scalefac_compress
            if (Read(side, 1) == 1)               // window switching
            {
                int blockType = Read(side, 2);
                Read(side, 1 + 10 + 9);           // mixed block flag, table_select x2, subblock_gain x3
                if (blockType == 2 && 2 * bigValues > 36)
                    return true;
            }
            else
            {
                Read(side, 15 + 4 + 3);           // table_select x3, region0_count, region1_count
            }
            Read(side, 2);                        // scalefac_scale, count1table_select
        }
        return false;
    }

    private static bool IsVbri(ReadOnlySpan<byte> frame) => frame.Length >= 40 && frame[36..].StartsWith("VBRI"u8);

    /// <summary>
    /// The figures of a Xing/Info frame: the frame count, and when a LAME tag follows, the encoder delay and padding;
    /// nulls when the frame has none. Also the samples per frame.
    /// </summary>
    internal static (long? delay, long? padding, long? frames, int samplesPerFrame) ReadLameTag(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 4 || !Frame.IsValid(BinaryPrimitives.ReadUInt32BigEndian(frame)))
            return default;
        int version = frame[1] >> 3 & 3;   // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
        int layer = frame[1] >> 1 & 3;     // 1: layer III
        bool crc = (frame[1] & 1) == 0;
        bool mono = (frame[3] >> 6) == 3;
        if (layer != 1)
            return default;
        int samplesPerFrame = version == 3 ? 1152 : 576;
        int sideInfo = version == 3 ? (mono ? 17 : 32) : (mono ? 9 : 17);
        int xing = 4 + (crc ? 2 : 0) + sideInfo;
        if (xing + 8 > frame.Length || !(frame[xing..].StartsWith("Xing"u8) || frame[xing..].StartsWith("Info"u8)))
            return default;
        uint flags = BinaryPrimitives.ReadUInt32BigEndian(frame[(xing + 4)..]);
        int p = xing + 8;
        long frames = 0;
        if ((flags & 1) != 0 && p + 4 <= frame.Length)
            frames = BinaryPrimitives.ReadUInt32BigEndian(frame[p..]);
        p += (flags & 1) != 0 ? 4 : 0;
        p += (flags & 2) != 0 ? 4 : 0;
        p += (flags & 4) != 0 ? 100 : 0;
        p += (flags & 8) != 0 ? 4 : 0;
        // The LAME extension: a 9-byte encoder name, then the delay and padding as two 12-bit numbers at +21.
        if ((flags & 1) == 0 || p + 24 > frame.Length || !(frame[p..].StartsWith("LAME"u8) || frame[p..].StartsWith("Lavc"u8) || frame[p..].StartsWith("Lavf"u8)))
            return (null, null, frames, samplesPerFrame);
        int delay = frame[p + 21] << 4 | frame[p + 22] >> 4;
        int padding = (frame[p + 22] & 0x0F) << 8 | frame[p + 23];
        return (delay, padding, frames, samplesPerFrame);
    }

    /// <summary>One frame's bytes, served to NLayer's decoder bit by bit as its <see cref="IMpegFrame"/> wants.</summary>
    private sealed class Frame : IMpegFrame
    {
        private static readonly int[,,] Bitrates =
        {
            { { 0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448 },
              { 0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384 },
              { 0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320 } },
            { { 0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256 },
              { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160 },
              { 0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160 } },
        };

        private byte[] bytes = new byte[MaxFrameBytes];
        private int length, readOffset, bitsInBucket;
        private ulong bucket;
        private uint header;

        /// <summary>Sync, a known version and layer, a bit rate other than free or bad, a known sample rate.</summary>
        public static bool IsValid(uint h)
            => (h & 0xFFE00000) == 0xFFE00000 && (h >> 19 & 3) != 1 && (h >> 17 & 3) != 0 && (h >> 12 & 15) is not (0 or 15) && (h >> 10 & 3) != 3;

        public static int Rate(uint h)
        {
            int rate = (h >> 10 & 3) switch { 0 => 44100, 1 => 48000, _ => 32000 };
            return (h >> 19 & 3) switch { 3 => rate, 2 => rate / 2, _ => rate / 4 };
        }

        public static int LayerOf(uint h) => 4 - (int)(h >> 17 & 3);  // 1, 2, 3

        public static bool IsMpeg1(uint h) => (h >> 19 & 3) == 3;

        private static int BitrateOf(uint h) => Bitrates[IsMpeg1(h) ? 0 : 1, LayerOf(h) - 1, h >> 12 & 15] * 1000;

        private static int SamplesOf(uint h) => LayerOf(h) == 1 ? 384 : LayerOf(h) == 3 && !IsMpeg1(h) ? 576 : 1152;

        public static int Length(uint h)
        {
            int padding = (int)(h >> 9 & 1);
            return LayerOf(h) == 1
                ? (12 * BitrateOf(h) / Rate(h) + padding) * 4
                : SamplesOf(h) / 8 * BitrateOf(h) / Rate(h) + padding;
        }

        public void Set(uint h, ReadOnlySpan<byte> frame)
        {
            header = h;
            length = frame.Length;
            frame.CopyTo(bytes);
            Reset();
        }

        public int SampleRate => Rate(header);
        public int SampleRateIndex => (int)(header >> 10 & 3);
        public int FrameLength => length;
        public int BitRate => BitrateOf(header);
        public MpegVersion Version => (header >> 19 & 3) switch { 3 => MpegVersion.Version1, 2 => MpegVersion.Version2, _ => MpegVersion.Version25 };
        public MpegLayer Layer => (MpegLayer)LayerOf(header);
        public MpegChannelMode ChannelMode => (MpegChannelMode)(header >> 6 & 3);
        public int ChannelModeExtension => (int)(header >> 4 & 3);
        public int SampleCount => SamplesOf(header);
        public int BitRateIndex => (int)(header >> 12 & 15);
        public bool IsCopyrighted => (header & 8) != 0;
        public bool HasCrc => (header & 0x10000) == 0;
        public bool IsCorrupted => false;

        public void Reset()
        {
            readOffset = 4 + (HasCrc ? 2 : 0);
            bucket = 0;
            bitsInBucket = 0;
        }

        public int ReadBits(int bitCount)
        {
            if (bitCount < 1 || bitCount > 32)
                throw new ArgumentOutOfRangeException(nameof(bitCount));
            while (bitsInBucket < bitCount)
            {
                if (readOffset >= length)
                    throw new EndOfStreamException("read past the end of an MP3 frame");
                bucket = bucket << 8 | bytes[readOffset++];
                bitsInBucket += 8;
            }
            bitsInBucket -= bitCount;
            return (int)(bucket >> bitsInBucket & ((1UL << bitCount) - 1));
        }
    }
}
