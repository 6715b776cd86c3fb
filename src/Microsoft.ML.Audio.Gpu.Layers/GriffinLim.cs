namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Griffin-Lim layer: a waveform whose STFT has the given magnitude, by iterated phase estimation with momentum
/// (torchaudio <c>GriffinLim</c>, librosa <c>griffinlim</c>; Kapre has no equivalent). See
/// <see cref="Functional.griffinlim"/>.
/// </summary>
/// <remarks>
/// <para>Input: real magnitude or power spectrogram <c>(..., n_fft / 2 + 1, frames)</c>, as <see cref="Stft"/> returns it
/// with centred framing.</para>
/// <para>Output: real <c>(..., time)</c>, <see cref="length"/> samples or <c>hop_length · (frames − 1)</c>.</para>
/// <para>Unlike torchaudio, the phase starts at 0 by default (<see cref="rand_init"/> false), so the output is
/// deterministic. The window is a registered buffer.</para>
/// </remarks>
public sealed class GriffinLim : nn.Module<Tensor, Tensor>
{
    /// <summary>FFT length, window length (at most <c>n_fft</c>) and samples between frame starts.</summary>
    public readonly long n_fft, win_length, hop_length;
    /// <summary>Window shape.</summary>
    public readonly WindowType window_type;
    /// <summary>Exponent of the input: 1 for magnitude, 2 for power.</summary>
    public readonly double power;
    /// <summary>Iterations.</summary>
    public readonly long n_iter;
    /// <summary>Fast Griffin-Lim momentum in [0, 1).</summary>
    public readonly double momentum;
    /// <summary>Samples of the output, or null for <c>hop_length · (frames − 1)</c>.</summary>
    public readonly long? length;
    /// <summary>Whether the phase starts random (torchaudio's default) rather than at 0.</summary>
    public readonly bool rand_init;

    // Named as its buffer: Module.to() replaces registered tensors and updates the field of the same name.
    private Tensor window;

    /// <summary>The window, zero-padded in the middle of <see cref="n_fft"/> samples (the registered buffer "window").</summary>
    public Tensor Window => window;

    /// <summary>Creates the layer; see <see cref="AudioLayers.GriffinLim"/> for the arguments.</summary>
    public GriffinLim(string name, long n_fft, long? win_length, long? hop_length, WindowType window, double power, long n_iter,
        double momentum, long? length, bool rand_init, ScalarType? dtype = null, Device? device = null) : base(name)
    {
        (this.n_fft, this.win_length, this.hop_length) = StftGeometry.Of(n_fft, win_length, hop_length);
        window_type = Check.Defined(window);
        this.power = Check.Positive(power);
        if (n_iter < 0) throw new ArgumentOutOfRangeException(nameof(n_iter), n_iter, $"n_iter must not be negative, got: {n_iter}");
        this.n_iter = n_iter;
        if (!(momentum >= 0 && momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"momentum must be in [0, 1), got: {momentum}");
        this.momentum = momentum;
        if (length is long l && l < 0) throw new ArgumentOutOfRangeException(nameof(length), l, $"length must not be negative, got: {l}");
        this.length = length;
        this.rand_init = rand_init;
        this.window = Functional.SynthesisWindow(window, this.win_length, n_fft, this.hop_length, dtype, device);
        register_buffer("window", this.window);
    }

    /// <summary>Reconstructs a waveform.</summary>
    /// <param name="input">Magnitude or power spectrogram <c>(..., n_fft / 2 + 1, frames)</c>.</param>
    /// <returns>Real signal <c>(..., time)</c>.</returns>
    public override Tensor forward(Tensor input)
        => Functional.GriffinLimCore(input, window, n_fft, hop_length, power, n_iter, momentum, length, rand_init, null, checkWindow: false);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) window.Dispose();
        base.Dispose(disposing);
    }
}

public static partial class AudioLayers
{
    /// <summary>Griffin-Lim phase reconstruction layer. Defaults follow torchaudio's <c>GriffinLim</c>, except the
    /// phase, which starts at 0.</summary>
    /// <param name="n_fft">FFT length. Default 512.</param>
    /// <param name="win_length">Window length, at most <paramref name="n_fft"/>. Default: <paramref name="n_fft"/>.</param>
    /// <param name="hop_length">Samples between frame starts. Default <c>win_length / 4</c> (as <see cref="Stft"/>;
    /// torchaudio uses <c>win_length / 2</c>).</param>
    /// <param name="window">Window shape (periodic). Default Hann.</param>
    /// <param name="power">1 if the input is a magnitude, 2 (default) if it is a power spectrogram.</param>
    /// <param name="n_iter">Iterations. Default 32.</param>
    /// <param name="momentum">Momentum in [0, 1). Default 0.99.</param>
    /// <param name="length">Samples of the output. Default <c>hop_length · (frames − 1)</c>.</param>
    /// <param name="rand_init">Start from a random phase. Default false (deterministic; torchaudio uses true).</param>
    /// <param name="dtype">Type of the window buffer; default float32.</param>
    /// <param name="device">Device of the window buffer; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static GriffinLim GriffinLim(long n_fft = LayerDefaults.FftLength, long? win_length = null, long? hop_length = null,
        WindowType window = LayerDefaults.Window, double power = 2.0, long n_iter = 32, double momentum = 0.99, long? length = null,
        bool rand_init = false, ScalarType? dtype = null, Device? device = null, string name = "griffinlim")
        => new(name, n_fft, win_length, hop_length, window, power, n_iter, momentum, length, rand_init, dtype, device);
}
