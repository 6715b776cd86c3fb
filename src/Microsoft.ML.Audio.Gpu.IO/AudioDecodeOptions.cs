namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>Which part of a longer clip a fixed duration keeps.</summary>
public enum CropAlignment
{
    // Saved in models: do not change the values.
    /// <summary>The beginning (reads only what the duration needs).</summary>
    Start = 0,
    /// <summary>The window of the duration with the most energy, searched in the first
    /// <see cref="AudioDecodeOptions.SearchSeconds"/>: a short word inside a longer recording is kept whole.</summary>
    Loudest = 1,
}

/// <summary>Where a clip shorter than a fixed duration sits in it.</summary>
public enum PadAlignment
{
    // Saved in models: do not change the values.
    /// <summary>At the start: all the silence after it.</summary>
    Start = 0,
    /// <summary>In the middle: half the silence before it, half after (the odd sample after). Recordings of one word are
    /// usually cut with the word in the middle, so a model sees a short word where it sees a long one.</summary>
    Center = 1,
}

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
    /// frames, zero-padded (where <see cref="Pad"/> says) or cropped (where <see cref="Crop"/> says). Null decodes the whole file.
    /// </summary>
    /// <remarks>With a duration only the source frames needed for it are read (plus the resampler's filter
    /// half-length), so a long file costs no more than a short one.</remarks>
    public double? DurationSeconds { get; init; }

    /// <summary>With <see cref="DurationSeconds"/>, which part of a longer clip to keep. Default <see cref="CropAlignment.Start"/>.</summary>
    public CropAlignment Crop { get; init; } = CropAlignment.Start;

    /// <summary>With <see cref="DurationSeconds"/>, where a shorter clip is placed. Default <see cref="PadAlignment.Start"/>.</summary>
    public PadAlignment Pad { get; init; } = PadAlignment.Start;

    /// <summary>With <see cref="CropAlignment.Loudest"/>, how much of the file is searched (and read), in seconds. Default 30.</summary>
    public double SearchSeconds { get; init; } = 30;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property.</summary>
    internal void Validate()
    {
        if (!Enum.IsDefined(Crop))
            throw new ArgumentOutOfRangeException(nameof(Crop), Crop, $"Crop must be Start or Loudest, got: {Crop}");
        if (!Enum.IsDefined(Pad))
            throw new ArgumentOutOfRangeException(nameof(Pad), Pad, $"Pad must be Start or Center, got: {Pad}");
        if (!(SearchSeconds > 0) || !double.IsFinite(SearchSeconds))
            throw new ArgumentOutOfRangeException(nameof(SearchSeconds), SearchSeconds, $"SearchSeconds must be a positive finite number, got: {SearchSeconds}");
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
