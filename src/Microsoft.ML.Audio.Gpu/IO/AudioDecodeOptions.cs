namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>What <see cref="AudioDecoder"/> produces: output rate, channel handling and a fixed length.</summary>
/// <remarks>
/// The steps run in this order: decode, mix down to mono (when <see cref="Mono"/>), resample (when
/// <see cref="SampleRate"/> differs from the file's rate), then pad or crop to <see cref="DurationSeconds"/>.
/// The options are immutable and may be shared between threads.
/// </remarks>
public sealed class AudioDecodeOptions
{
    /// <summary>Output sample rate in Hz; the audio is resampled when the file's rate differs. Null keeps the file's rate.</summary>
    /// <remarks>Resampling is band-limited; see <see cref="AudioDecoder"/> for its measured quality.</remarks>
    public int? SampleRate { get; init; }

    /// <summary>Mix all channels down to one by averaging them (the default); false keeps every channel.</summary>
    public bool Mono { get; init; } = true;

    /// <summary>
    /// Fixed output length in seconds: the result has exactly <c>(int)Math.Round(DurationSeconds * outputRate)</c>
    /// frames, zero-padded at the end or cropped. Null decodes the whole file.
    /// </summary>
    /// <remarks>With a duration only the source frames needed for it are read (plus the resampler's filter
    /// half-length), so a long file costs no more than a short one.</remarks>
    public double? DurationSeconds { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property.</summary>
    internal void Validate()
    {
        if (SampleRate is int rate && rate <= 0)
            throw new ArgumentOutOfRangeException(nameof(SampleRate), rate, $"SampleRate must be positive, got: {rate}");
        if (DurationSeconds is double seconds)
        {
            if (!double.IsFinite(seconds))
                throw new ArgumentOutOfRangeException(nameof(DurationSeconds), seconds, $"DurationSeconds must be a finite number, got: {seconds}");
            if (seconds <= 0)
                throw new ArgumentOutOfRangeException(nameof(DurationSeconds), seconds, $"DurationSeconds must be positive, got: {seconds}");
            if (SampleRate is int r && Math.Round(seconds * r) > Array.MaxLength)
                throw new ArgumentOutOfRangeException(nameof(DurationSeconds), seconds,
                    $"DurationSeconds at SampleRate {r} Hz must give at most {Array.MaxLength} frames, got: {seconds}");
        }
    }
}
