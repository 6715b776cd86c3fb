using System.Globalization;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// One opened audio file of any supported format, served as interleaved float frames: what
/// <see cref="AudioDecoder"/> mixes, resamples and crops. One subclass per format.
/// </summary>
internal abstract class AudioSource : IDisposable
{
    private long frameLimit = long.MaxValue;
    private long framesServed;

    /// <summary>Format name for messages ("FLAC", "MP3", ...).</summary>
    public abstract string FormatName { get; }

    /// <summary>Interleaved channels.</summary>
    public int Channels { get; protected set; }

    /// <summary>Frames per second.</summary>
    public int SampleRate { get; protected set; }

    /// <summary>Exact frames the whole decode will give, when the container says so up front and can be trusted
    /// (checked against the bytes present); null when only the end tells. Sizes the output without copies.</summary>
    public virtual long? KnownFrames => null;

    /// <summary>Reads at most <paramref name="frames"/> more frames from now on (a fixed output length).</summary>
    public virtual void LimitFrames(long frames) => frameLimit = frames;

    /// <summary>
    /// Fills <paramref name="destination"/> (a multiple of <see cref="Channels"/> long) with whole frames; returns the
    /// samples written, 0 at the end. Every sample is finite: a decoder that produces NaN or infinity fails.
    /// </summary>
    /// <exception cref="DecodeFailure">The data is corrupt.</exception>
    public int Read(Span<float> destination)
    {
        long room = Math.Min(destination.Length / Channels, frameLimit - framesServed);
        if (room <= 0)
            return 0;
        int samples = ReadCore(destination[..checked((int)room * Channels)]);
        int bad = destination[..samples].IndexOfAnyExceptInRange(float.MinValue, float.MaxValue);
        if (bad >= 0)
            throw NonFinite(destination[bad], framesServed + bad / Channels, bad % Channels);
        framesServed += samples / Channels;
        return samples;
    }

    /// <summary>Whole frames into <paramref name="destination"/>; samples written, 0 at the end.</summary>
    protected abstract int ReadCore(Span<float> destination);

    /// <summary>The failure for a non-finite sample; float WAV data says what it holds, decoders that the data is corrupt.</summary>
    protected virtual DecodeFailure NonFinite(float value, long frame, int channel)
        => new(string.Create(CultureInfo.InvariantCulture,
            $"the {FormatName} decoder produced {(float.IsNaN(value) ? "NaN" : "an infinite value")} at frame {frame}, channel {channel} ({(double)frame / SampleRate:0.######} s): the data is corrupt"));

    /// <summary>Checks a sample rate read from a header: rates outside audio's range are header damage, and would
    /// size the resampler's filter (taps grow with the rate ratio; docs/reliability.md).</summary>
    protected static int CheckRate(double sampleRate)
    {
        if (!(sampleRate >= WavReader.MinSampleRate && sampleRate <= WavReader.MaxSampleRate) || sampleRate != Math.Floor(sampleRate))
            throw new DecodeFailure(string.Create(CultureInfo.InvariantCulture,
                $"the header declares a sample rate of {sampleRate} Hz; supported rates are whole numbers from {WavReader.MinSampleRate} to {WavReader.MaxSampleRate} Hz"));
        return (int)sampleRate;
    }

    /// <summary>
    /// Whether an exception from a third-party decoder (NLayer, NVorbis, Concentus) means the data is corrupt. They were
    /// written for valid files and fail on damaged ones with whatever their code hits (an index out of range, a null,
    /// an argument check). Out of memory and our own failures are not among them, and pass through.
    /// </summary>
    protected static bool IsDecoderFailure(Exception e)
        => e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or NullReferenceException
            or InvalidDataException or FormatException or OverflowException or NotSupportedException or EndOfStreamException;

    /// <summary>Releases what the decoder holds; the caller's stream is never closed.</summary>
    public virtual void Dispose() { }
}

/// <summary>
/// A decoder that produces blocks of frames (an MP3 frame, a FLAC frame, an Ogg packet). This class serves them in
/// any read size and applies the gapless trim in one place: frames the encoder added at the start
/// (<see cref="LeadingFrames"/>: LAME's delay, Opus's pre-skip) are dropped, and the output stops at
/// <see cref="EndFrame"/> when the container says where the audio ends (LAME's padding, an Ogg granule position).
/// </summary>
internal abstract class BlockSource : AudioSource
{
    private float[] block = [];
    private int blockFrames, blockOffset;
    private long framesDecoded;   // decoded frames, before the leading trim
    private bool ended;

    /// <summary>Frames the encoder put before the audio; dropped.</summary>
    protected long LeadingFrames { get; set; }

    /// <summary>Decoded frame (counted before the leading trim) where the audio ends, when known; null: at the last block.</summary>
    protected long? EndFrame { get; set; }

    /// <summary>
    /// Decodes the next block into <paramref name="buffer"/> (grown by the decoder as needed, interleaved) and returns
    /// its frames; 0 at the end of the stream.
    /// </summary>
    protected abstract int DecodeBlock(ref float[] buffer);

    /// <summary>Where the stream ended early, for formats that know their length up front: a failure by default.</summary>
    protected virtual void OnEnd(long framesDecoded) { }

    protected sealed override int ReadCore(Span<float> destination)
    {
        int written = 0;
        while (written < destination.Length)
        {
            if (blockOffset == blockFrames)
            {
                if (ended)
                    break;
                blockOffset = 0;
                blockFrames = DecodeBlock(ref block);
                if (blockFrames == 0)
                {
                    ended = true;
                    OnEnd(framesDecoded);
                    break;
                }
                long first = framesDecoded;
                framesDecoded += blockFrames;
                // Trim the encoder's leading frames, then anything past the declared end.
                if (first < LeadingFrames)
                    blockOffset = (int)Math.Min(blockFrames, LeadingFrames - first);
                if (EndFrame is long end && framesDecoded >= end)
                {
                    blockFrames = (int)Math.Max(blockOffset, Math.Min(blockFrames, end - first));
                    ended = true;
                }
                continue;
            }
            int frames = Math.Min(blockFrames - blockOffset, (destination.Length - written) / Channels);
            block.AsSpan(blockOffset * Channels, frames * Channels).CopyTo(destination[written..]);
            blockOffset += frames;
            written += frames * Channels;
        }
        return written;
    }
}
