namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Default values of the layers, defined once and used by the layer factories, the ML.NET options and the catalog.
/// They follow torchaudio unless a comment says otherwise.
/// </summary>
public static class LayerDefaults
{
    /// <summary>FFT length: 512 (torchaudio's <c>Spectrogram</c> uses 400; 512 is a power of two, 32 ms at 16 kHz).</summary>
    public const int FftLength = 512;
    /// <summary>Window: periodic Hann.</summary>
    public const WindowType Window = WindowType.Hann;
    /// <summary>Framing: centred, as torch.stft and librosa.</summary>
    public const FramePadding Padding = FramePadding.Center;
    /// <summary>Fill for centring: reflect (torch.stft's default).</summary>
    public const PadMode PadMode = Layers.PadMode.Reflect;
    /// <summary>Hop as a fraction of the window: <c>win_length / 4</c> (librosa and Kapre; torchaudio uses / 2).</summary>
    public const int HopDivisor = 4;
    /// <summary>Mel bands: 128 (torchaudio, librosa and Kapre).</summary>
    public const int MelBinCount = 128;
    /// <summary>Lowest mel frequency: 0 Hz.</summary>
    public const double MinFrequency = 0;
    /// <summary>Mel formula: HTK (torchaudio; librosa and Kapre use Slaney).</summary>
    public const MelScale MelScale = Layers.MelScale.Htk;
    /// <summary>Mel filter normalisation: none (torchaudio; librosa and Kapre use Slaney).</summary>
    public const MelNorm MelNorm = Layers.MelNorm.None;
    /// <summary>Floor before the logarithm: 1e-10 (torchaudio, librosa's power_to_db).</summary>
    public const double Amin = 1e-10;
    /// <summary>Value mapped to 0 dB: 1.</summary>
    public const double Reference = 1.0;
}
