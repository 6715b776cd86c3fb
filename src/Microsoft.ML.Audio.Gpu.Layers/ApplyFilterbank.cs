using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Applies a filterbank along the frequency axis (Kapre <c>ApplyFilterbank</c>). The filterbank is a buffer, or a
/// trainable parameter when created with <c>trainable: true</c> (Kapre 2017's <c>trainable_fb</c>).
/// </summary>
/// <remarks>
/// <para>Input: real spectrum <c>(..., n_freqs, frames)</c>, e.g. power or magnitude from <see cref="Stft"/>.</para>
/// <para>Output: <c>(..., n_filters, frames)</c>.</para>
/// </remarks>
public class ApplyFilterbank : nn.Module<Tensor, Tensor>
{
    /// <summary>Frequency bins the filterbank expects.</summary>
    public readonly long n_freqs;
    /// <summary>Number of filters (output bins).</summary>
    public readonly long n_filters;
    /// <summary>Whether the filterbank is a trainable parameter.</summary>
    public readonly bool trainable;

    // Named as its parameter or buffer: Module.to() replaces registered tensors and updates the field of the same name.
    private Tensor filterbank;

    /// <summary>The filterbank <c>(n_freqs, n_filters)</c>: the <see cref="Parameter"/> "filterbank" when trainable,
    /// else the buffer "filterbank".</summary>
    public Tensor Filterbank => filterbank;

    /// <summary>Wraps <paramref name="filterbank"/> <c>(n_freqs, n_filters)</c>; the layer takes ownership of it.</summary>
    public ApplyFilterbank(string name, Tensor filterbank, bool trainable = false) : base(name)
    {
        ArgumentNullException.ThrowIfNull(filterbank);
        if (filterbank.dim() != 2)
            throw new ArgumentException($"filterbank must be (n_freqs, n_filters), got shape [{string.Join(", ", filterbank.shape)}]", nameof(filterbank));
        if (!filterbank.is_floating_point())
            throw new ArgumentException($"filterbank must be floating point, got {filterbank.dtype}", nameof(filterbank));
        n_freqs = filterbank.shape[0];
        n_filters = filterbank.shape[1];
        this.trainable = trainable;
        if (trainable)
        {
            var p = new Parameter(filterbank, requires_grad: true);
            register_parameter("filterbank", p);
            this.filterbank = p;
        }
        else
        {
            register_buffer("filterbank", filterbank);
            this.filterbank = filterbank;
        }
    }

    /// <summary>Applies the filterbank.</summary>
    /// <param name="input">Real spectrum <c>(..., n_freqs, frames)</c>.</param>
    /// <returns><c>(..., n_filters, frames)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        return Functional.apply_filterbank(input, filterbank);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) filterbank.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>
/// Mel filterbank layer (Kapre <c>get_stft_mag_phase</c>'s mel part, torchaudio <c>MelScale</c>): maps a power or
/// magnitude spectrum to mel bands with triangular filters from <see cref="Functional.melscale_fbanks"/>.
/// </summary>
/// <remarks>
/// <para>Input: <c>(..., n_fft / 2 + 1, frames)</c>. Output: <c>(..., n_mels, frames)</c>.</para>
/// </remarks>
public sealed class MelFilterbank : ApplyFilterbank
{
    /// <summary>Sample rate in Hz.</summary>
    public readonly double sample_rate;
    /// <summary>Number of mel bands.</summary>
    public readonly long n_mels;
    /// <summary>Lowest frequency in Hz.</summary>
    public readonly double f_min;
    /// <summary>Highest frequency in Hz.</summary>
    public readonly double f_max;
    /// <summary>Mel formula.</summary>
    public readonly MelScale mel_scale;
    /// <summary>Filter normalisation.</summary>
    public readonly MelNorm norm;

    /// <summary>Creates the layer; see <see cref="AudioLayers.MelFilterbank"/> for the arguments.</summary>
    public MelFilterbank(string name, double sample_rate, long n_freqs, long n_mels, double f_min, double? f_max,
        MelScale mel_scale, MelNorm norm, bool trainable, ScalarType? dtype = null, Device? device = null)
        : base(name, Functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm, mel_scale, dtype, device), trainable)
    {
        this.sample_rate = sample_rate;
        this.n_mels = n_mels;
        this.f_min = f_min;
        this.f_max = f_max ?? sample_rate / 2;
        this.mel_scale = mel_scale;
        this.norm = norm;
    }
}

public static partial class AudioLayers
{
    /// <summary>Applies a given filterbank <c>(n_freqs, n_filters)</c> along the frequency axis.</summary>
    /// <param name="filterbank">The filterbank; the layer takes ownership.</param>
    /// <param name="trainable">Learn the filterbank with the network. Default false.</param>
    /// <param name="name">Module name.</param>
    public static ApplyFilterbank ApplyFilterbank(Tensor filterbank, bool trainable = false, string name = "filterbank")
        => new(name, filterbank, trainable);

    /// <summary>Mel filterbank layer.</summary>
    /// <param name="sample_rate">Sample rate of the audio in Hz.</param>
    /// <param name="n_fft">FFT length of the spectrum it follows (<c>n_fft / 2 + 1</c> bins). Default 512.</param>
    /// <param name="n_mels">Number of mel bands. Default 128 (torchaudio, librosa and Kapre).</param>
    /// <param name="f_min">Lowest frequency in Hz. Default 0.</param>
    /// <param name="f_max">Highest frequency in Hz; null (default) means <c>sample_rate / 2</c>.</param>
    /// <param name="mel_scale">Mel formula. Default HTK (torchaudio); Kapre and librosa default to Slaney.</param>
    /// <param name="norm">Filter normalisation. Default none (torchaudio); librosa and Kapre default to Slaney.</param>
    /// <param name="trainable">Make the filterbank a trainable parameter (Kapre 2017's <c>trainable_fb</c>). Default false.</param>
    /// <param name="dtype">Type of the filterbank; default float32.</param>
    /// <param name="device">Device of the filterbank; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static MelFilterbank MelFilterbank(double sample_rate, long n_fft = LayerDefaults.FftLength, long n_mels = LayerDefaults.MelBinCount,
        double f_min = LayerDefaults.MinFrequency, double? f_max = null, MelScale mel_scale = LayerDefaults.MelScale, MelNorm norm = LayerDefaults.MelNorm, bool trainable = false,
        ScalarType? dtype = null, Device? device = null, string name = "mel")
        => new(name, sample_rate, Check.Positive(n_fft) / 2 + 1, n_mels, f_min, f_max, mel_scale, norm, trainable, dtype, device);
}
