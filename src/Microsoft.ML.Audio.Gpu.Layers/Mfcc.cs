namespace Microsoft.ML.Audio.Gpu.Layers;

// The numeric values of this enum are written into saved models: do not change them.

/// <summary>Scaling of the DCT-II in <see cref="Functional.create_dct"/>.</summary>
public enum DctNorm
{
    /// <summary>Unscaled DCT-II, <c>2 Σ x[n] cos(π k (n + ½) / N)</c> (torchaudio <c>norm=None</c>).</summary>
    None = 0,
    /// <summary>Orthonormal DCT-II (torchaudio, librosa and scipy <c>norm="ortho"</c>).</summary>
    Ortho = 1,
}

/// <summary>
/// Mel-frequency cepstral coefficients from a log-mel spectrogram: an orthonormal DCT-II along the mel axis
/// (torchaudio <c>MFCC</c>'s last step; librosa <c>feature.mfcc</c> with <c>S=</c> a dB spectrogram).
/// </summary>
/// <remarks>
/// <para>Input: log-mel in dB <c>(..., n_mels, frames)</c>, e.g. from <see cref="MelSpectrogram"/> with
/// <c>to_db: true, top_db: 80</c>, which is torchaudio's <c>MFCC(log_mels=False)</c>.</para>
/// <para>Output: <c>(..., n_mfcc, frames)</c>. The DCT matrix is the buffer "dct" <c>(n_mels, n_mfcc)</c>.</para>
/// <example><code>
/// using var melspec = AudioLayers.MelSpectrogram(16000, n_fft: 512, win_length: 400, hop_length: 160, n_mels: 64, to_db: true, top_db: 80);
/// using var mfcc = AudioLayers.Mfcc(n_mfcc: 40, n_mels: 64);
/// var coefficients = mfcc.call(melspec.call(waveforms)); // (batch, 40, frames)
/// </code></example>
/// </remarks>
public sealed class Mfcc : nn.Module<Tensor, Tensor>
{
    /// <summary>Default number of coefficients: 40 (torchaudio's <c>MFCC</c>).</summary>
    public const int DefaultCoefficientCount = 40;

    /// <summary>Number of coefficients.</summary>
    public readonly long n_mfcc;
    /// <summary>Number of mel bands of the input.</summary>
    public readonly long n_mels;
    /// <summary>DCT scaling.</summary>
    public readonly DctNorm norm;

    // Named as its buffer: Module.to() replaces registered tensors and updates the field of the same name.
    private Tensor dct;

    /// <summary>The DCT matrix <c>(n_mels, n_mfcc)</c> (the registered buffer "dct").</summary>
    public Tensor Dct => dct;

    /// <summary>Creates the layer; see <see cref="AudioLayers.Mfcc"/> for the arguments.</summary>
    public Mfcc(string name, long n_mfcc, long n_mels, DctNorm norm, ScalarType? dtype = null, Device? device = null) : base(name)
    {
        this.n_mfcc = Check.Positive(n_mfcc);
        this.n_mels = Check.Positive(n_mels);
        if (n_mfcc > n_mels)
            throw new ArgumentOutOfRangeException(nameof(n_mfcc), n_mfcc, $"n_mfcc must be at most n_mels ({n_mels}), got: {n_mfcc}");
        this.norm = Check.Defined(norm);
        dct = Functional.create_dct(n_mfcc, n_mels, norm, dtype, device);
        register_buffer("dct", dct);
    }

    /// <summary>Computes the coefficients.</summary>
    /// <param name="input">Log-mel spectrogram <c>(..., n_mels, frames)</c>.</param>
    /// <returns><c>(..., n_mfcc, frames)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() < 2 || input.shape[^2] != n_mels)
            throw new ArgumentException($"input must be (..., n_mels = {n_mels}, frames), got shape [{string.Join(", ", input.shape)}]", nameof(input));
        // The DCT along the mel axis is a filterbank whose filters are the cosine basis.
        return Functional.apply_filterbank(input, dct);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) dct.Dispose();
        base.Dispose(disposing);
    }
}

public static partial class AudioLayers
{
    /// <summary>MFCC layer: orthonormal DCT-II of a log-mel spectrogram along its mel axis.</summary>
    /// <param name="n_mfcc">Coefficients kept, at most <paramref name="n_mels"/>. Default 40 (torchaudio).</param>
    /// <param name="n_mels">Mel bands of the input. Default 128 (torchaudio, librosa and Kapre).</param>
    /// <param name="norm">DCT scaling. Default <see cref="DctNorm.Ortho"/> (torchaudio, librosa).</param>
    /// <param name="dtype">Type of the DCT buffer; default float32.</param>
    /// <param name="device">Device of the DCT buffer; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static Mfcc Mfcc(long n_mfcc = Layers.Mfcc.DefaultCoefficientCount, long n_mels = LayerDefaults.MelBinCount, DctNorm norm = DctNorm.Ortho,
        ScalarType? dtype = null, Device? device = null, string name = "mfcc")
        => new(name, n_mfcc, n_mels, norm, dtype, device);
}
