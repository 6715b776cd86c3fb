// Log-frequency filterbank: Kapre's backend.filterbank_log (keunwoochoi/kapre, kapre/backend.py at 0b83a838, MIT),
// itself librosa 0.4's `logfrequency` (ISC). No code was copied; the formula is restated below.

namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class Functional
{
    /// <summary>C1 in Hz (MIDI note 24 at A4 = 440 Hz): Kapre's default lowest centre frequency.</summary>
    public const double C1Hz = 32.70319566;

    // numpy.finfo(float64).tiny, librosa.util.normalize's threshold.
    private const double SmallestNormalDouble = 2.2250738585072014E-308;

    /// <summary>
    /// An approximately constant-Q filterbank for a fixed-window STFT (Kapre <c>backend.filterbank_log</c>, librosa
    /// 0.4 <c>logfrequency</c>), computed in float64. Filter <c>k</c> is a log-normal bump centred at
    /// <c>c_k = f_min · 2^(k / bins_per_octave)</c>: <c>exp(−½((log2 f − log2 c_k) / σ)² − log2 σ − log2 f)</c> with
    /// <c>σ = spread / bins_per_octave</c>, over the bin frequencies <c>f</c> above 0 Hz (the DC bin gets 0); each
    /// filter is then divided by its sum (L1 normalisation), as Kapre does.
    /// </summary>
    /// <param name="sample_rate">Sample rate in Hz; the <paramref name="n_freq"/> bins span 0 to <c>sample_rate / 2</c>.</param>
    /// <param name="n_freq">Frequency bins of the spectrum, <c>n_fft / 2 + 1</c>; at least 2.</param>
    /// <param name="n_bins">Number of log-frequency bins. Default 84 (7 octaves, Kapre).</param>
    /// <param name="bins_per_octave">Bins per octave. Default 12 (semitones, Kapre).</param>
    /// <param name="f_min">Centre of the lowest bin in Hz; null (default) means C1 ≈ 32.70 Hz (Kapre).</param>
    /// <param name="spread">Width of each filter as a fraction of a bin. Default 0.125 (Kapre).</param>
    /// <param name="dtype">Type of the returned tensor; default float32.</param>
    /// <param name="device">Device of the returned tensor; default CPU.</param>
    /// <returns>The filterbank <c>(n_freq, n_bins)</c>, for <see cref="apply_filterbank"/> or <see cref="ApplyFilterbank"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range; named <c>n_bins</c> when the top
    /// centre, <c>f_min · 2^(n_bins / bins_per_octave)</c>, is above the Nyquist frequency (Kapre raises there too).</exception>
    public static Tensor log_frequency_fbanks(double sample_rate, long n_freq, long n_bins = 84, long bins_per_octave = 12,
        double? f_min = null, double spread = 0.125, ScalarType? dtype = null, Device? device = null)
    {
        var fb = log_frequency_fbanks_array(sample_rate, n_freq, n_bins, bins_per_octave, f_min, spread);
        using var t = tensor(fb, [n_freq, n_bins], ScalarType.Float64);
        return t.to(dtype ?? ScalarType.Float32, device ?? CPU);
    }

    /// <summary>The filterbank of <see cref="log_frequency_fbanks"/> as a row-major <c>[n_freq, n_bins]</c> array.</summary>
    public static double[] log_frequency_fbanks_array(double sample_rate, long n_freq, long n_bins = 84, long bins_per_octave = 12,
        double? f_min = null, double spread = 0.125)
    {
        Check.Positive(sample_rate);
        Check.Positive(n_freq);
        if (n_freq < 2) throw new ArgumentOutOfRangeException(nameof(n_freq), n_freq, $"n_freq must be at least 2, got: {n_freq}");
        Check.Positive(n_bins);
        Check.Positive(bins_per_octave);
        double fMin = Check.Positive(f_min ?? C1Hz, nameof(f_min));
        Check.Positive(spread);
        // Kapre compares with sample_rate // 2.
        double nyquist = Math.Floor(sample_rate / 2);
        double fMax = fMin * Math.Pow(2.0, (double)n_bins / bins_per_octave);
        if (fMax > nyquist)
            throw new ArgumentOutOfRangeException(nameof(n_bins), n_bins,
                $"n_bins must keep the top centre f_min · 2^(n_bins / bins_per_octave) = {fMax:G6} Hz at most the Nyquist frequency {nyquist} Hz, got: {n_bins}");

        double sigma = spread / bins_per_octave;
        double log2Sigma = Math.Log2(sigma);
        var fb = new double[n_freq * n_bins];
        for (long k = 0; k < n_bins; k++)
        {
            double log2Centre = Math.Log2(fMin * Math.Pow(2.0, (double)k / bins_per_octave));
            double sum = 0;
            for (long i = 1; i < n_freq; i++)
            {
                double log2F = Math.Log2(sample_rate / 2.0 * i / (n_freq - 1));
                double z = (log2F - log2Centre) / sigma;
                double v = Math.Exp(-0.5 * z * z - log2Sigma - log2F);
                fb[i * n_bins + k] = v;
                sum += v;
            }
            // librosa.util.normalize(norm=1) leaves a row whose norm is below the smallest normal double as it is.
            if (sum >= SmallestNormalDouble)
                for (long i = 1; i < n_freq; i++) fb[i * n_bins + k] /= sum;
        }
        return fb;
    }
}
