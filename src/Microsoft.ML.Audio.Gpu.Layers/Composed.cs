// Composed helpers after Kapre's composed.py (kapre/composed.py at d2492dc, MIT): get_stft_mag_phase and
// get_perfectly_reconstructing_stft_istft, built from the public layers. No code was copied.

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// STFT magnitude and phase on a new channel axis: <see cref="Stft"/> (complex) → <see cref="Magnitude"/> and
/// <see cref="Phase"/>, stacked (Kapre <c>get_stft_mag_phase</c> without its decibel option). A stack of the public
/// layers, reachable as <see cref="stft"/>, <see cref="magnitude"/> and <see cref="phase"/>.
/// </summary>
/// <remarks>
/// <para>Input: <c>(time)</c>, <c>(batch, time)</c> or <c>(batch, channels, time)</c>.</para>
/// <para>Output: <c>(..., 2, n_fft / 2 + 1, frames)</c>: index 0 of the new axis is the magnitude, index 1 the phase in
/// radians, in (−π, π]. Kapre concatenates the two on its channel axis (channels-last by default), which for a mono
/// input is the same pair; here the pair gets its own axis so that multichannel inputs keep their channels apart.</para>
/// <example><code>
/// using var magPhase = AudioLayers.StftMagnitudePhase(n_fft: 512, hop_length: 128);
/// var x = magPhase.call(torch.randn(8, 16000)); // (8, 2, 257, 126)
/// </code></example>
/// </remarks>
public sealed class StftMagnitudePhase : nn.Module<Tensor, Tensor>
{
    /// <summary>The STFT stage (complex output).</summary>
    public readonly Stft stft;
    /// <summary>The magnitude stage.</summary>
    public readonly Magnitude magnitude;
    /// <summary>The phase stage.</summary>
    public readonly Phase phase;

    /// <summary>Composes the given stages; the module takes ownership of them.</summary>
    /// <exception cref="ArgumentException"><paramref name="stft"/> does not return a complex spectrum.</exception>
    public StftMagnitudePhase(string name, Stft stft, Magnitude magnitude, Phase phase) : base(name)
    {
        ArgumentNullException.ThrowIfNull(stft);
        ArgumentNullException.ThrowIfNull(magnitude);
        ArgumentNullException.ThrowIfNull(phase);
        if (stft.output != SpectrumType.Complex)
            throw new ArgumentException($"stft must return a Complex spectrum for its magnitude and phase, got: {stft.output}", nameof(stft));
        this.stft = stft;
        this.magnitude = magnitude;
        this.phase = phase;
        register_module("stft", stft);
        register_module("magnitude", magnitude);
        register_module("phase", phase);
    }

    /// <summary>Computes the magnitude and phase of the STFT.</summary>
    /// <param name="input">Signal <c>(..., time)</c>, float32 or float64.</param>
    /// <returns><c>(..., 2, n_fft / 2 + 1, frames)</c>, real: magnitude then phase.</returns>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var spec = stft.call(input);
        var result = stack([magnitude.call(spec), phase.call(spec)], dim: -3);
        return result.MoveToOuterDisposeScope();
    }
}

public static partial class AudioLayers
{
    /// <summary>STFT magnitude and phase stacked on a new axis (Kapre <c>get_stft_mag_phase</c>).</summary>
    /// <param name="n_fft">FFT length; <c>n_fft / 2 + 1</c> frequency bins. Default 512.</param>
    /// <param name="win_length">Window length, at most <paramref name="n_fft"/>. Default: <paramref name="n_fft"/>.</param>
    /// <param name="hop_length">Samples between frame starts. Default <c>win_length / 4</c> (librosa and Kapre).</param>
    /// <param name="window">Window shape (periodic). Default Hann.</param>
    /// <param name="padding">Framing: torch/librosa centring (default) or one of Kapre's conventions
    /// (<see cref="FramePadding.Valid"/> is Kapre's default, <c>pad_begin=False, pad_end=False</c>).</param>
    /// <param name="pad_mode">Fill for centring. Default reflect.</param>
    /// <param name="dtype">Type of the window buffer; default float32.</param>
    /// <param name="device">Device of the window buffer; default CPU.</param>
    /// <param name="name">Module name; the stages are "stft", "magnitude" and "phase".</param>
    public static StftMagnitudePhase StftMagnitudePhase(long n_fft = LayerDefaults.FftLength, long? win_length = null, long? hop_length = null,
        WindowType window = LayerDefaults.Window, FramePadding padding = LayerDefaults.Padding, PadMode pad_mode = LayerDefaults.PadMode,
        ScalarType? dtype = null, Device? device = null, string name = "stft_mag_phase")
        => new(name, Stft(n_fft, win_length, hop_length, window, padding, pad_mode, SpectrumType.Complex, dtype, device), Magnitude(), Phase());

    /// <summary>
    /// A <see cref="Layers.Stft"/> and an <see cref="Layers.InverseStft"/> configured alike, so that
    /// <c>inverse.forward(forward.call(x), length: time)</c> restores <c>x</c> to rounding error (Kapre
    /// <c>get_perfectly_reconstructing_stft_istft</c>).
    /// </summary>
    /// <remarks>
    /// <para>Both use centred framing with reflect padding (the only framing <see cref="Layers.InverseStft"/>
    /// inverts) and the same window, whose squares overlap-added at the hop must not vanish (NOLA, checked here).
    /// Kapre instead pads the beginning and end and requires <c>win_length / hop_length</c> to be a power of 2; the
    /// division by the overlap-added squared window used here needs only NOLA.</para>
    /// <para>Pass the signal's length to the inverse: without it the result has <c>hop_length · (frames − 1)</c> samples.</para>
    /// <example><code>
    /// var (stft, istft) = AudioLayers.PerfectReconstructionStftIstft(n_fft: 512);
    /// var y = istft.forward(stft.call(x), length: x.shape[^1]); // y ≈ x
    /// </code></example>
    /// </remarks>
    /// <param name="n_fft">FFT length. Default 512.</param>
    /// <param name="win_length">Window length, at most <paramref name="n_fft"/>. Default: <paramref name="n_fft"/>.</param>
    /// <param name="hop_length">Samples between frame starts, at most <paramref name="n_fft"/>. Default
    /// <c>win_length / 4</c>: 75% overlap (Kapre's default).</param>
    /// <param name="window">Window shape (periodic). Default Hann.</param>
    /// <param name="dtype">Type of the window buffers; default float32.</param>
    /// <param name="device">Device of the window buffers; default CPU.</param>
    /// <param name="stft_name">Name of the forward module.</param>
    /// <param name="istft_name">Name of the inverse module.</param>
    /// <returns>The forward STFT (complex output) and its inverse; the caller owns and disposes both.</returns>
    /// <exception cref="ArgumentException">An argument is invalid for <see cref="Stft"/>, or the window fails NOLA at the
    /// hop (named <c>window</c>), or the hop exceeds <paramref name="n_fft"/> (named <c>hop_length</c>).</exception>
    public static (Stft forward, InverseStft inverse) PerfectReconstructionStftIstft(long n_fft = LayerDefaults.FftLength, long? win_length = null,
        long? hop_length = null, WindowType window = LayerDefaults.Window, ScalarType? dtype = null, Device? device = null,
        string stft_name = "stft", string istft_name = "istft")
    {
        // The inverse checks NOLA and the hop, so it is built first: nothing is left to dispose if it throws.
        var inverse = InverseStft(n_fft, win_length, hop_length, window, dtype, device, istft_name);
        try
        {
            var forward = Stft(n_fft, inverse.win_length, inverse.hop_length, window, FramePadding.Center, PadMode.Reflect,
                SpectrumType.Complex, dtype, device, stft_name);
            return (forward, inverse);
        }
        catch
        {
            inverse.Dispose();
            throw;
        }
    }
}
