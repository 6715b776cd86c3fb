namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Mel spectrogram: <see cref="Stft"/> (power or magnitude) → <see cref="MelFilterbank"/> → optional
/// <see cref="AmplitudeToDecibel"/> (Kapre <c>get_melspectrogram_layer</c>, torchaudio <c>MelSpectrogram</c> followed by
/// <c>AmplitudeToDB</c>). A stack of the public layers, reachable as <see cref="stft"/>, <see cref="mel"/> and
/// <see cref="db"/>.
/// </summary>
/// <remarks>
/// <para>Input: <c>(time)</c>, <c>(batch, time)</c> or <c>(batch, channels, time)</c>.</para>
/// <para>Output: <c>(..., n_mels, frames)</c>.</para>
/// <example><code>
/// using var melspec = AudioLayers.MelSpectrogram(sample_rate: 16000, n_fft: 512, win_length: 400, hop_length: 160,
///                                                n_mels: 64, top_db: 80);
/// var logmel = melspec.call(waveforms); // (batch, 64, frames) in dB
/// </code></example>
/// </remarks>
public sealed class MelSpectrogram : nn.Module<Tensor, Tensor>
{
    /// <summary>The STFT stage (returns power or magnitude).</summary>
    public readonly Stft stft;
    /// <summary>The mel filterbank stage.</summary>
    public readonly MelFilterbank mel;
    /// <summary>The decibel stage, or null for a linear mel spectrogram.</summary>
    public readonly AmplitudeToDecibel? db;

    /// <summary>Composes the given stages; the module takes ownership of them.</summary>
    /// <exception cref="ArgumentException">The stages do not fit together (complex STFT output, bins that differ,
    /// a decibel stage that expects the other spectrum type).</exception>
    public MelSpectrogram(string name, Stft stft, MelFilterbank mel, AmplitudeToDecibel? db) : base(name)
    {
        ArgumentNullException.ThrowIfNull(stft);
        ArgumentNullException.ThrowIfNull(mel);
        if (stft.output == SpectrumType.Complex)
            throw new ArgumentException("stft must return Power or Magnitude for a mel spectrogram, got: Complex", nameof(stft));
        if (mel.n_freqs != stft.n_fft / 2 + 1)
            throw new ArgumentException($"mel expects {mel.n_freqs} frequency bins but stft gives n_fft / 2 + 1 = {stft.n_fft / 2 + 1}", nameof(mel));
        if (db is not null && db.input_type != stft.output)
            throw new ArgumentException($"db expects {db.input_type} but stft returns {stft.output}", nameof(db));
        this.stft = stft;
        this.mel = mel;
        this.db = db;
        register_module("stft", stft);
        register_module("mel", mel);
        if (db is not null) register_module("db", db);
    }

    /// <summary>Computes the (log-)mel spectrogram.</summary>
    /// <param name="input">Signal <c>(..., time)</c>.</param>
    /// <returns><c>(..., n_mels, frames)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = mel.call(stft.call(input));
        if (db is not null) x = db.call(x);
        return x.MoveToOuterDisposeScope();
    }
}

public static partial class AudioLayers
{
    /// <summary>Mel spectrogram layer: STFT → mel filterbank → optional decibels. Defaults follow torchaudio.</summary>
    /// <param name="sample_rate">Sample rate of the audio in Hz.</param>
    /// <param name="n_fft">FFT length. Default 512.</param>
    /// <param name="win_length">Window length; default <paramref name="n_fft"/>.</param>
    /// <param name="hop_length">Hop; default <c>win_length / 4</c>.</param>
    /// <param name="window">Window shape; default Hann (periodic).</param>
    /// <param name="padding">Framing; default centred (torch/librosa).</param>
    /// <param name="pad_mode">Fill for centring; default reflect.</param>
    /// <param name="power">2 for a power spectrum (default), 1 for magnitude.</param>
    /// <param name="n_mels">Mel bands; default 128.</param>
    /// <param name="f_min">Lowest frequency in Hz; default 0.</param>
    /// <param name="f_max">Highest frequency in Hz; default <c>sample_rate / 2</c>.</param>
    /// <param name="mel_scale">Mel formula; default HTK.</param>
    /// <param name="norm">Filter normalisation; default none.</param>
    /// <param name="trainable_mel">Learn the mel filterbank; default false.</param>
    /// <param name="to_db">Append the decibel stage; default false.</param>
    /// <param name="db_reference">Value mapped to 0 dB; default 1.</param>
    /// <param name="db_amin">Floor before the logarithm; default 1e-10.</param>
    /// <param name="top_db">Dynamic range below each example's maximum; default none.</param>
    /// <param name="dtype">Type of the buffers; default float32.</param>
    /// <param name="device">Device of the buffers; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static MelSpectrogram MelSpectrogram(double sample_rate, long n_fft = LayerDefaults.FftLength, long? win_length = null, long? hop_length = null,
        WindowType window = LayerDefaults.Window, FramePadding padding = LayerDefaults.Padding, PadMode pad_mode = LayerDefaults.PadMode,
        double power = 2.0, long n_mels = LayerDefaults.MelBinCount, double f_min = LayerDefaults.MinFrequency, double? f_max = null,
        MelScale mel_scale = LayerDefaults.MelScale, MelNorm norm = LayerDefaults.MelNorm, bool trainable_mel = false, bool to_db = false,
        double db_reference = LayerDefaults.Reference, double db_amin = LayerDefaults.Amin, double? top_db = null,
        ScalarType? dtype = null, Device? device = null, string name = "melspectrogram")
    {
        var output = power switch
        {
            2.0 => SpectrumType.Power,
            1.0 => SpectrumType.Magnitude,
            _ => throw new ArgumentOutOfRangeException(nameof(power), power, $"power must be 1 (magnitude) or 2 (power), got: {power}"),
        };
        var stft = Stft(n_fft, win_length, hop_length, window, padding, pad_mode, output, dtype, device);
        var mel = MelFilterbank(sample_rate, n_fft, n_mels, f_min, f_max, mel_scale, norm, trainable_mel, dtype, device);
        var db = to_db ? AmplitudeToDecibel(output, db_reference, db_amin, top_db) : null;
        return new MelSpectrogram(name, stft, mel, db);
    }
}
