using NVorbis;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Ogg Vorbis decoded by NVorbis, which applies the stream's granule positions itself: the first packet's
/// overlap is not output and the last page's granule position ends the audio, so the count is exact. Only the first
/// logical stream of a chained file is read. Channels are put in WAV order (<see cref="VorbisOrder"/>).
/// </summary>
internal sealed class VorbisSource : AudioSource
{
    private readonly VorbisReader reader;
    private readonly int[]? order;

    private VorbisSource(Stream stream)
    {
        reader = new VorbisReader(stream, closeOnDispose: false);
        Channels = reader.Channels;
        if (Channels <= 0)
            throw new DecodeFailure($"the Vorbis header declares {Channels} channels");
        SampleRate = CheckRate(reader.SampleRate);
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
        catch (ArgumentException e) when (e.ParamName == "containerReader")
        {
            // NVorbis's word for "the Ogg pages hold no Vorbis stream it could start" (bad headers or pages).
            throw new DecodeFailure("no Vorbis stream could be started: its Ogg pages or Vorbis headers are corrupt", e);
        }
        catch (Exception e) when (Mp3Source.IsCorruptData(e))
        {
            throw new DecodeFailure($"the Vorbis headers are corrupt ({e.Message})", e);
        }
    }

    public override void Dispose() => reader.Dispose();

    protected override int ReadCore(Span<float> destination)
    {
        try
        {
            int samples = reader.ReadSamples(destination);
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
        catch (Exception e) when (Mp3Source.IsCorruptData(e))
        {
            throw new DecodeFailure($"the Vorbis data is corrupt ({e.Message})", e);
        }
    }
}
