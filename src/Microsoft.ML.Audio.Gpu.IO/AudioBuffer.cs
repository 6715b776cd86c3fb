namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Decoded audio: float samples in planar, row-major <c>[Channels, Frames]</c> layout.
/// </summary>
/// <remarks>
/// <para>Channel <c>c</c> occupies <c>Samples[c * Frames .. (c + 1) * Frames)</c>, so one channel is one contiguous
/// row, ready to be copied into a <c>(channels, time)</c> tensor.</para>
/// <para>Integer PCM decodes to <c>[-1, 1)</c> (a 16-bit sample <c>s</c> becomes <c>s / 32768</c>); floating-point
/// files keep their stored values, which are finite but may exceed 1 in magnitude.</para>
/// </remarks>
public sealed class AudioBuffer
{
    /// <summary>Wraps planar samples (not copied: the buffer keeps the caller's array).</summary>
    /// <param name="samples">Planar samples, <c>channels * frames</c> long; channel <c>c</c> starts at <c>c * frames</c>.</param>
    /// <param name="channels">Number of channels, at least 1.</param>
    /// <param name="sampleRate">Frames per second, at least 1.</param>
    /// <exception cref="ArgumentNullException"><paramref name="samples"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> or <paramref name="sampleRate"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The length of <paramref name="samples"/> is not a multiple of <paramref name="channels"/>.</exception>
    public AudioBuffer(float[] samples, int channels, int sampleRate)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (channels <= 0)
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"channels must be positive, got: {channels}");
        if (sampleRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, $"sampleRate must be positive, got: {sampleRate}");
        if (samples.Length % channels != 0)
            throw new ArgumentException(
                $"samples.Length must be a multiple of channels, got: {samples.Length} samples for {channels} channels", nameof(samples));
        Samples = samples;
        Channels = channels;
        SampleRate = sampleRate;
        Frames = samples.Length / channels;
    }

    /// <summary>The planar samples, <see cref="Channels"/> × <see cref="Frames"/> long.</summary>
    public float[] Samples { get; }

    /// <summary>Number of channels (1 after a mono mixdown).</summary>
    public int Channels { get; }

    /// <summary>Frames per second.</summary>
    public int SampleRate { get; }

    /// <summary>Samples per channel.</summary>
    public int Frames { get; }

    /// <summary>Frames that hold decoded audio: the rest, up to <see cref="Frames"/>, is the zero padding that reached
    /// <see cref="AudioDecodeOptions.DurationSeconds"/>. Equals <see cref="Frames"/> unless padding was added.</summary>
    public int AudioFrames
    {
        get => _audioFrames ?? Frames;
        init => _audioFrames = value >= 0 && value <= Frames ? value
            : throw new ArgumentOutOfRangeException(nameof(AudioFrames), value, $"AudioFrames must be in [0, {Frames}], got: {value}");
    }

    private readonly int? _audioFrames;

    /// <summary>Length in seconds: <see cref="Frames"/> / <see cref="SampleRate"/>.</summary>
    public double DurationSeconds => (double)Frames / SampleRate;

    /// <summary>The samples of one channel, a view into <see cref="Samples"/>.</summary>
    /// <param name="channel">Channel index, from 0 to <see cref="Channels"/> − 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channel"/> is outside the channels.</exception>
    public Span<float> GetChannel(int channel)
    {
        if ((uint)channel >= (uint)Channels)
            throw new ArgumentOutOfRangeException(nameof(channel), channel, $"channel must be in [0, {Channels}), got: {channel}");
        return Samples.AsSpan(channel * Frames, Frames);
    }
}
