using NVorbis;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Ogg Vorbis decoded by NVorbis, which applies the stream's granule positions itself: the first packet's
/// overlap is not output and the last page's granule position ends the audio, so the count is exact. Only the first
/// logical stream of a chained file is read; a lost page or a missing last page fails (<see cref="OggPackets"/>).
/// Channels are put in WAV order (<see cref="VorbisOrder"/>).
/// </summary>
internal sealed class VorbisSource : AudioSource
{
    /// <summary>
    /// Channel count from which NVorbis 0.10.5 was measured to decode wrongly: a 5.1 file from oggenc decodes to noise
    /// (peaks of 4.5 for a signal of 0.4), where 3, 4 and 5 channels agree with SoX. libvorbis codes 5.1 and 7.1 with
    /// the LFE channel in a submap of its own, which is likely what NVorbis mishandles.
    /// </summary>
    internal const int MinChannelsDecodedWrongly = 6;

    private readonly OggPackets packets;
    private readonly StreamDecoder reader;
    private readonly int[]? order;

    private VorbisSource(Stream stream)
    {
        packets = new OggPackets(stream);
        // No clipping: like the other float decoders, values past full scale are kept as decoded.
        reader = new StreamDecoder(packets) { ClipSamples = false };
        Channels = reader.Channels;
        if (Channels <= 0)
            throw new DecodeFailure($"the Vorbis header declares {Channels} channels");
        SampleRate = CheckRate(reader.SampleRate);
        if (Channels >= MinChannelsDecodedWrongly)
            throw new DecodeFailure($"Vorbis streams of {MinChannelsDecodedWrongly} or more channels are not supported: NVorbis 0.10.5 "
                                    + "decodes libvorbis's 5.1 layout to noise (measured against ffmpeg), and wrong audio is worse than none");
        order = VorbisOrder.ToWav(Channels);
    }

    public override string FormatName => "Vorbis";

    /// <summary>Opens an Ogg Vorbis stream and reads its three headers.</summary>
    public static VorbisSource Open(Stream stream)
    {
        try
        {
            return new VorbisSource(stream);
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new DecodeFailure($"the Vorbis headers are corrupt ({e.Message})", e);
        }
    }

    public override void Dispose()
    {
        reader.Dispose();
        packets.Dispose();
    }

    protected override int ReadCore(Span<float> destination)
    {
        try
        {
            int samples = reader.Read(destination, 0, destination.Length);
            if (order is not null)
            {
                Span<float> frame = stackalloc float[Channels];
                for (int k = 0; k < samples; k += Channels)
                {
                    destination.Slice(k, Channels).CopyTo(frame);
                    for (int c = 0; c < Channels; c++)
                        destination[k + c] = frame[order[c]];
                }
            }
            return samples;
        }
        catch (Exception e) when (IsDecoderFailure(e))
        {
            throw new DecodeFailure($"the Vorbis data is corrupt ({e.Message})", e);
        }
    }
}
