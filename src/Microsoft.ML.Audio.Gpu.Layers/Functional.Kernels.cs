// Tensors that initialise or condition learnable layers: the windowed DFT basis of Kapre 2017's trainable STFT
// (keunwoochoi/kapre, kapre/backend.py get_stft_kernels, MIT) and the frequency map of a frequency-aware
// convolution (Koutini et al., DCASE 2019; Kapre's ConcatenateFrequencyMap). No code was copied.

namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class Functional
{
    /// <summary>
    /// The windowed DFT basis as conv1d kernels: rows <c>0..K−1</c> are <c>w[n] cos(2πkn / n_fft)</c> and rows
    /// <c>K..2K−1</c> are <c>−w[n] sin(2πkn / n_fft)</c>, <c>K = n_fft / 2 + 1</c>, so that a stride-hop conv1d gives
    /// the real and imaginary parts of the onesided STFT (Kapre 2017 <c>get_stft_kernels</c>). Computed in float64.
    /// </summary>
    /// <param name="window">Window of length <c>n_fft</c> (e.g. from <see cref="window(WindowType, long, long?, FramePadding, ScalarType?, Device?)"/>).</param>
    /// <param name="dtype">Type of the returned tensor; default float32.</param>
    /// <param name="device">Device of the returned tensor; default CPU.</param>
    /// <returns><c>(2 · (n_fft / 2 + 1), 1, n_fft)</c>.</returns>
    public static Tensor dft_kernels(Tensor window, ScalarType? dtype = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (window.dim() != 1 || window.shape[0] < 1)
            throw new ArgumentException($"window must be 1-D and not empty, got shape [{string.Join(", ", window.shape)}]", nameof(window));
        long n_fft = window.shape[0], bins = n_fft / 2 + 1;
        double[] w;
        using (var cpu = HostCopy.Of(window, ScalarType.Float64)) w = cpu.data<double>().ToArray();
        var kernels = new double[2 * bins * n_fft];
        for (long k = 0; k < bins; k++)
        {
            for (long n = 0; n < n_fft; n++)
            {
                // k·n reduced modulo n_fft keeps the angle small, so cos and sin stay exact to float64 rounding.
                double angle = 2.0 * Math.PI * ((k * n) % n_fft) / n_fft;
                kernels[k * n_fft + n] = w[n] * Math.Cos(angle);
                kernels[(bins + k) * n_fft + n] = -w[n] * Math.Sin(angle);
            }
        }
        using var t = tensor(kernels, [2 * bins, 1, n_fft], ScalarType.Float64);
        return t.to(dtype ?? ScalarType.Float32, device ?? CPU);
    }

    /// <summary>
    /// A frequency-coordinate map: <paramref name="n_freq"/> values from −1 (lowest bin) to 1 (highest), evenly spaced
    /// (the extra channel of a frequency-aware convolution; Kapre's ConcatenateFrequencyMap uses 0 to 1).
    /// </summary>
    /// <returns><c>(n_freq)</c>; a single bin gets −1.</returns>
    public static Tensor frequency_map(long n_freq, ScalarType? dtype = null, Device? device = null)
    {
        Check.Positive(n_freq);
        return linspace(-1.0, 1.0, n_freq, dtype: dtype ?? ScalarType.Float32, device: device ?? CPU);
    }

    /// <summary>
    /// Appends the frequency-coordinate map of <see cref="frequency_map"/> as one more channel (Kapre
    /// <c>ConcatenateFrequencyMap</c>, channels first).
    /// </summary>
    /// <param name="input"><c>(batch, channels, freq, time)</c> or <c>(channels, freq, time)</c>.</param>
    /// <returns><c>(batch, channels + 1, freq, time)</c>, or without the batch axis for 3-D input.</returns>
    public static Tensor concatenate_frequency_map(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() is not (3 or 4))
            throw new ArgumentException($"input must be (batch, channels, freq, time) or (channels, freq, time), got shape [{string.Join(", ", input.shape)}]", nameof(input));
        using var scope = NewDisposeScope();
        bool unbatched = input.dim() == 3;
        var x = unbatched ? input.unsqueeze(0) : input;
        long n = x.shape[0], freq = x.shape[2], time = x.shape[3];
        var map = frequency_map(freq, x.dtype, x.device).reshape(1, 1, freq, 1).expand(n, 1, freq, time);
        var y = cat([x, map], 1);
        return (unbatched ? y.squeeze(0) : y).MoveToOuterDisposeScope();
    }
}
