namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Collects planar output frames: one array of <c>channels × capacity</c>, channel <c>c</c> at <c>c × capacity</c>.
/// With the final length known up front nothing is copied; otherwise it grows by doubling and is compacted once.
/// </summary>
internal sealed class PlanarBuilder
{
    private const int InitialSamples = 1 << 16;

    private readonly int channels;
    private float[] data;
    private int capacity;

    /// <summary>Starts with room for <paramref name="expectedFrames"/> frames when known (checked to fit one array).</summary>
    public PlanarBuilder(int channels, long? expectedFrames)
    {
        this.channels = channels;
        capacity = expectedFrames is long expected ? (int)CheckFits(expected) : Math.Max(1, InitialSamples / channels);
        data = new float[(long)channels * capacity];
    }

    /// <summary>Frames written so far (set by the writer).</summary>
    public int Frames { get; set; }

    /// <summary>The storage of one channel, <c>capacity</c> frames long.</summary>
    public Span<float> Channel(int channel) => data.AsSpan(channel * capacity, capacity);

    /// <summary>Grows the storage to hold at least <paramref name="frames"/> frames.</summary>
    /// <exception cref="DecodeFailure">That many samples do not fit one .NET array.</exception>
    public void EnsureCapacity(long frames)
    {
        if (frames <= capacity)
            return;
        CheckFits(frames);
        int grown = (int)Math.Min(Math.Max(frames, 2L * capacity), Array.MaxLength / channels);
        var larger = new float[(long)channels * grown];
        for (int c = 0; c < channels; c++)
            Array.Copy(data, (long)c * capacity, larger, (long)c * grown, Frames);
        data = larger;
        capacity = grown;
    }

    /// <summary>The result, exactly <paramref name="frames"/> long: frames past <see cref="Frames"/> are zeros.</summary>
    public AudioBuffer ToBuffer(int frames, int sampleRate)
    {
        if (frames != capacity)
        {
            var exact = new float[(long)channels * frames];
            for (int c = 0; c < channels; c++)
                Array.Copy(data, (long)c * capacity, exact, (long)c * frames, Math.Min(Frames, frames));
            data = exact;
            capacity = frames;
        }
        else if (Frames < frames)
        {
            for (int c = 0; c < channels; c++)
                Channel(c)[Frames..].Clear();
        }
        return new AudioBuffer(data, channels, sampleRate);
    }

    private long CheckFits(long frames)
    {
        if ((Int128)frames * channels > Array.MaxLength)
            throw new DecodeFailure($"the decoded audio would have {(Int128)frames * channels} samples, more than the {Array.MaxLength} "
                                    + "one array holds; set DurationSeconds to decode its beginning");
        return frames;
    }
}
