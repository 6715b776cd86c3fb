namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Inverse short-time Fourier transform layer: the inverse of <see cref="Stft"/> with <see cref="FramePadding.Center"/>
/// (torchaudio <c>InverseSpectrogram</c>, torch.istft with <c>center=True</c>; Kapre has no inverse STFT layer).
/// </summary>
/// <remarks>
/// <para>Input: complex spectrum <c>(..., n_fft / 2 + 1, frames)</c>, as <see cref="Stft"/> with
/// <see cref="SpectrumType.Complex"/> returns it for <c>(time)</c>, <c>(batch, time)</c> or <c>(batch, channels, time)</c>.</para>
/// <para>Output: real <c>(..., time)</c>: <c>hop_length · (frames − 1)</c> samples, or <c>length</c> when given
/// (<see cref="forward(Tensor, long?)"/>), which restores the analysed signal to rounding error.</para>
/// <para>The window is a registered buffer; the constructor checks that its squares overlap-added at the hop never
/// vanish (NOLA), which every window of <see cref="WindowType"/> meets for <c>hop_length ≤ win_length / 2</c>.</para>
/// <example><code>
/// using var stft = AudioLayers.Stft(n_fft: 512, hop_length: 128);
/// using var istft = AudioLayers.InverseStft(n_fft: 512, hop_length: 128);
/// var y = istft.forward(stft.call(x), length: x.shape[^1]); // y ≈ x
/// </code></example>
/// </remarks>
public sealed class InverseStft : nn.Module<Tensor, Tensor>
{
    /// <summary>FFT length, window length (at most <c>n_fft</c>) and samples between frame starts.</summary>
    public readonly long n_fft, win_length, hop_length;
    /// <summary>Window shape.</summary>
    public readonly WindowType window_type;

    // Named as its buffer: Module.to() replaces registered tensors and updates the field of the same name.
    private Tensor window;

    /// <summary>The window, zero-padded in the middle of <see cref="n_fft"/> samples (the registered buffer "window").</summary>
    public Tensor Window => window;

    /// <summary>Creates the layer; see <see cref="AudioLayers.InverseStft"/> for the arguments.</summary>
    public InverseStft(string name, long n_fft, long? win_length, long? hop_length, WindowType window,
        ScalarType? dtype = null, Device? device = null) : base(name)
    {
        (this.n_fft, this.win_length, this.hop_length) = StftGeometry.Of(n_fft, win_length, hop_length);
        window_type = Check.Defined(window);
        this.window = Functional.SynthesisWindow(window, this.win_length, n_fft, this.hop_length, dtype, device);
        register_buffer("window", this.window);
    }

    /// <summary>Inverts the spectrum; the result has <c>hop_length · (frames − 1)</c> samples.</summary>
    /// <param name="input">Complex spectrum <c>(..., n_fft / 2 + 1, frames)</c>.</param>
    /// <returns>Real signal <c>(..., time)</c>.</returns>
    public override Tensor forward(Tensor input) => forward(input, null);

    /// <summary>Inverts the spectrum and trims or zero-pads the end to <paramref name="length"/> samples.</summary>
    /// <param name="input">Complex spectrum <c>(..., n_fft / 2 + 1, frames)</c>.</param>
    /// <param name="length">Samples of the result, e.g. the length of the signal given to <see cref="Stft"/>; null for
    /// <c>hop_length · (frames − 1)</c>.</param>
    /// <returns>Real signal <c>(..., length)</c>.</returns>
    public Tensor forward(Tensor input, long? length)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!input.is_complex())
            throw new ArgumentException($"input must be a complex spectrum, got {input.dtype}", nameof(input));
        if (input.dim() < 2 || input.shape[^2] != n_fft / 2 + 1 || input.shape[^1] < 1)
            throw new ArgumentException($"input must be (..., n_fft / 2 + 1 = {n_fft / 2 + 1}, frames ≥ 1), got shape [{string.Join(", ", input.shape)}]", nameof(input));
        if (length is long l && l < 0) throw new ArgumentOutOfRangeException(nameof(length), l, $"length must not be negative, got: {l}");
        return Functional.IstftCore(input, n_fft, hop_length, window, length);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) window.Dispose();
        base.Dispose(disposing);
    }
}

public static partial class AudioLayers
{
    /// <summary>Inverse STFT layer, the inverse of <see cref="Stft"/> with centred framing.</summary>
    /// <param name="n_fft">FFT length; the input has <c>n_fft / 2 + 1</c> bins. Default 512.</param>
    /// <param name="win_length">Window length, at most <paramref name="n_fft"/>. Default: <paramref name="n_fft"/>.</param>
    /// <param name="hop_length">Samples between frame starts. Default <c>win_length / 4</c> (librosa and Kapre, as <see cref="Stft"/>).</param>
    /// <param name="window">Window shape (periodic), the one the analysis used. Default Hann.</param>
    /// <param name="dtype">Type of the window buffer; default float32. Inputs of another type still work.</param>
    /// <param name="device">Device of the window buffer; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static InverseStft InverseStft(long n_fft = LayerDefaults.FftLength, long? win_length = null, long? hop_length = null,
        WindowType window = LayerDefaults.Window, ScalarType? dtype = null, Device? device = null, string name = "istft")
        => new(name, n_fft, win_length, hop_length, window, dtype, device);
}
