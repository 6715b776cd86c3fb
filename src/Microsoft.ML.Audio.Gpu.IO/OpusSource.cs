using System.Buffers.Binary;
using Concentus;
using Concentus.Structs;
using NVorbis.Contracts;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Opus in Ogg (RFC 7845) decoded by Concentus at 48 kHz, its packets read by NVorbis's Ogg container reader (the
/// same page and packet code that serves Vorbis, <see cref="OggPackets"/>; Concentus has no container code). The pre-skip of the OpusHead is
/// dropped, the last page's granule position ends the audio, and the header's output gain is applied, as
/// libopusfile and ffmpeg do. Channel mapping families 0 (mono, stereo) and 1 (up to 8 channels, put in WAV order
/// like every other format here: <see cref="VorbisOrder"/>).
/// </summary>
internal sealed class OpusSource : BlockSource
{
    /// <summary>Opus always decodes at 48 kHz; granule positions count 48 kHz samples whatever the input rate was.</summary>
    internal const int Rate = 48000;

    /// <summary>The longest Opus packet: 120 ms.</summary>
    private const int MaxPacketFrames = 5760;

    private readonly OggPackets packets;
    private readonly OpusMSDecoder decoder;
    private readonly float gain;
    private byte[] packetBytes = new byte[1024];

    private OpusSource(Stream stream)
    {
        packets = new OggPackets(stream);

        var head = NextPacket() ?? throw new DecodeFailure("the Ogg stream has no packets");
        if (head.Length < 19 || !head.AsSpan().StartsWith("OpusHead"u8))
            throw new DecodeFailure("the first Ogg packet is not an OpusHead");
        if (head[8] >> 4 != 0)
            throw new DecodeFailure($"Opus header version {head[8]} is not supported (major version 0 is)");
        int channels = head[9];
        LeadingFrames = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(10));
        gain = MathF.Pow(10, BinaryPrimitives.ReadInt16LittleEndian(head.AsSpan(16)) / (20f * 256));
        int family = head[18];
        int streams, coupled;
        byte[] mapping;
        if (channels == 0)
            throw new DecodeFailure("the OpusHead declares 0 channels");
        if (family == 0)
        {
            if (channels > 2)
                throw new DecodeFailure($"the OpusHead declares {channels} channels with mapping family 0, which allows 1 or 2");
            streams = 1;
            coupled = channels - 1;
            mapping = channels == 1 ? [0] : [0, 1];
        }
        else if (family == 1)
        {
            if (channels > 8 || head.Length < 21 + channels)
                throw new DecodeFailure($"the OpusHead declares {channels} channels with mapping family 1, which allows 1 to 8 and needs a mapping table");
            streams = head[19];
            coupled = head[20];
            mapping = head[21..(21 + channels)];
            if (streams == 0 || coupled > streams || streams + coupled > 255)
                throw new DecodeFailure($"the OpusHead declares {streams} streams of which {coupled} coupled");
            foreach (byte m in mapping)
                if (m != 255 && m >= streams + coupled)
                    throw new DecodeFailure($"the OpusHead maps a channel to stream {m} of {streams + coupled}");
        }
        else
        {
            throw new DecodeFailure($"Opus channel mapping family {family} is not supported (0 and 1 are)");
        }
        if (family == 1 && VorbisOrder.ToWav(channels) is int[] order)
            mapping = order.Select(i => mapping[i]).ToArray();
        Channels = channels;
        SampleRate = Rate;
        try
        {
            // The managed decoder always: OpusCodecFactory would load Concentus.Native when present, and then the
            // output would depend on the machine.
#pragma warning disable CS0618
            decoder = new OpusMSDecoder(Rate, channels, streams, coupled, mapping);
#pragma warning restore CS0618
        }
        catch (Exception e) when (e is OpusException or ArgumentException)
        {
            throw new DecodeFailure($"the OpusHead's channel mapping is invalid ({e.Message})", e);
        }
        var tags = NextPacket();
        if (tags is null || !tags.AsSpan().StartsWith("OpusTags"u8))
            throw new DecodeFailure("the second Ogg packet is not OpusTags");
    }

    public override string FormatName => "Opus";

    /// <summary>Opens an Ogg Opus stream and reads its two header packets.</summary>
    public static OpusSource Open(Stream stream)
    {
        try
        {
            return new OpusSource(stream);
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new DecodeFailure($"the Ogg data is corrupt ({e.Message})", e);
        }
    }

    public override void Dispose() => packets.Dispose();

    protected override int DecodeBlock(ref float[] buffer)
    {
        int samples = MaxPacketFrames * Channels;
        if (buffer.Length < samples)
            buffer = new float[samples];
        try
        {
            while (true)
            {
                var packet = packets.GetNextPacket();
                if (packet is null)
                    return 0;
                int length = CopyPacket(packet);
                // The last page's granule position is where the audio ends (RFC 7845 section 4.4), pre-skip included.
                if (packet.IsEndOfStream && packet.GranulePosition is long end && end >= 0)
                    EndFrame = end;
                if (length == 0)
                    continue; // an empty packet carries no audio (RFC 7845 allows none; skip it rather than fail)
                int frames = decoder.DecodeMultistream(packetBytes.AsSpan(0, length), buffer.AsSpan(0, samples), MaxPacketFrames, false);
                if (gain != 1f)
                    for (int i = 0; i < frames * Channels; i++)
                        buffer[i] *= gain;
                return frames;
            }
        }
        catch (Exception e) when (e is OpusException || IsDecoderFailure(e))
        {
            throw new DecodeFailure($"the Opus data is corrupt ({e.Message})", e);
        }
    }

    /// <summary>The next packet's bytes, or null at the end of the stream.</summary>
    private byte[]? NextPacket()
    {
        var packet = packets.GetNextPacket();
        if (packet is null)
            return null;
        int length = CopyPacket(packet);
        return packetBytes[..length];
    }

    private int CopyPacket(IPacket packet)
    {
        int length = packet.BitsRemaining / 8;
        if (packetBytes.Length < length)
            packetBytes = new byte[length];
        for (int i = 0; i < length; i++)
            packetBytes[i] = (byte)packet.ReadBits(8);
        packet.Done();
        return length;
    }
}

/// <summary>
/// Vorbis and Opus (mapping family 1) order 3 to 8 channels as L, C, R, ...; WAV, FLAC and this library's output as
/// L, R, C, LFE, ... (the WAVEFORMATEXTENSIBLE speaker order). ffmpeg and opusdec reorder the same way.
/// </summary>
internal static class VorbisOrder
{
    /// <summary>For output channel <c>i</c>, the Vorbis-order channel it takes; null when the orders agree.</summary>
    public static int[]? ToWav(int channels) => channels switch
    {
        3 => [0, 2, 1],                     // L C R            -> L R C
        5 => [0, 2, 1, 3, 4],               // L C R RL RR      -> L R C RL RR
        6 => [0, 2, 1, 5, 3, 4],            // L C R RL RR LFE  -> L R C LFE RL RR
        7 => [0, 2, 1, 6, 5, 3, 4],         // L C R SL SR RC LFE -> L R C LFE RC SL SR
        8 => [0, 2, 1, 7, 5, 6, 3, 4],      // L C R SL SR RL RR LFE -> L R C LFE RL RR SL SR
        _ => null,
    };
}
