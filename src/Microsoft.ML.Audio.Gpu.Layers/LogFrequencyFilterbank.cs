namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class AudioLayers
{
    /// <summary>
    /// Log-frequency filterbank layer (Kapre <c>ApplyFilterbank(type='log')</c> with <c>backend.filterbank_log</c>):
    /// an <see cref="ApplyFilterbank"/> whose filters come from <see cref="Functional.log_frequency_fbanks"/>.
    /// Input: power or magnitude <c>(..., n_fft / 2 + 1, frames)</c>; output: <c>(..., n_bins, frames)</c>.
    /// </summary>
    /// <param name="sample_rate">Sample rate of the audio in Hz.</param>
    /// <param name="n_fft">FFT length of the spectrum it follows (<c>n_fft / 2 + 1</c> bins). Default 512.</param>
    /// <param name="n_bins">Number of log-frequency bins. Default 84 (7 octaves, Kapre).</param>
    /// <param name="bins_per_octave">Bins per octave. Default 12 (Kapre).</param>
    /// <param name="f_min">Centre of the lowest bin in Hz; null (default) means C1 ≈ 32.70 Hz (Kapre).</param>
    /// <param name="spread">Filter width as a fraction of a bin. Default 0.125 (Kapre).</param>
    /// <param name="trainable">Learn the filterbank with the network (Kapre 2017's <c>trainable_fb</c>). Default false.</param>
    /// <param name="dtype">Type of the filterbank; default float32.</param>
    /// <param name="device">Device of the filterbank; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static ApplyFilterbank LogFrequencyFilterbank(double sample_rate, long n_fft = LayerDefaults.FftLength, long n_bins = 84,
        long bins_per_octave = 12, double? f_min = null, double spread = 0.125, bool trainable = false,
        ScalarType? dtype = null, Device? device = null, string name = "logfilterbank")
        => new(name, Functional.log_frequency_fbanks(sample_rate, Check.Positive(n_fft) / 2 + 1, n_bins, bins_per_octave, f_min, spread, dtype, device), trainable);
}
