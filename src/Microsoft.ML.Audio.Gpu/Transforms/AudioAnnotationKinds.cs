namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Names of the annotations that audio and spectrum columns carry, so that later transforms can check what they
/// receive (ML.NET's <c>AnnotationUtils.Kinds</c> plays this role for slot names and key values).
/// All are <see cref="Microsoft.ML.Data.NumberDataViewType.Int32"/>.
/// </summary>
public static class AudioAnnotationKinds
{
    /// <summary>Sample rate of the audio in Hz, on audio columns and on every spectrum made from them.</summary>
    public const string SampleRate = "SampleRate";

    /// <summary>Number of audio channels: the leading dimension of a multi-channel column (1 for mono).</summary>
    public const string ChannelCount = "ChannelCount";

    /// <summary>FFT length of the STFT a spectrum column comes from.</summary>
    public const string FftLength = "FftLength";

    /// <summary>Hop length, in samples, of the STFT a spectrum column comes from.</summary>
    public const string HopLength = "HopLength";

    /// <summary>Frequency rows of a spectrum column (FFT bins or mel bands): a row-major <c>[channels, bins, frames]</c>
    /// vector of variable size has <c>length / (channels · bins)</c> frames.</summary>
    public const string BinCount = "BinCount";

    /// <summary>1 for a magnitude spectrum, 2 for a power spectrum; absent once converted to decibels.</summary>
    public const string SpectrumPower = "SpectrumPower";

    // The annotations every spectrum column carries; SpectrumPower is added while the values are not yet in dB.
    internal static readonly string[] Spectrum = [SampleRate, ChannelCount, FftLength, HopLength, BinCount];
    internal static readonly string[] PowerSpectrum = [.. Spectrum, SpectrumPower];
}
