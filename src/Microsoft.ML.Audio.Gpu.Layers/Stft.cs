namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Short-time Fourier transform layer (Kapre <c>STFT</c>, torchaudio <c>Spectrogram</c> with <c>power=None/1/2</c>).
/// </summary>
/// <remarks>
/// <para>Input: <c>(time)</c>, <c>(batch, time)</c> or <c>(batch, channels, time)</c>; any leading dimensions are kept.</para>
/// <para>Output: <c>(..., n_fft / 2 + 1, frames)</c>, complex for <see cref="SpectrumType.Complex"/>, else real;
/// <c>frames</c> is <see cref="Functional.frame_count"/> of the input length.</para>
/// <para>Runs on the input's device and floating-point type; the window is a registered buffer, so
/// <c>module.to(device)</c> moves it too.</para>
/// <example><code>
/// using var stft = AudioLayers.Stft(n_fft: 512, win_length: 400, hop_length: 160, output: SpectrumType.Power);
/// var power = stft.call(torch.randn(8, 16000)); // (8, 257, 101)
/// </code></example>
/// </remarks>
public sealed class Stft : nn.Module<Tensor, Tensor>
{
    /// <summary>FFT length, window length (at most <c>n_fft</c>) and samples between frame starts.</summary>
    public readonly long n_fft, win_length, hop_length;
    /// <summary>Window shape.</summary>
    public readonly WindowType window_type;
    /// <summary>Framing convention.</summary>
    public readonly FramePadding padding;
    /// <summary>Fill used by <see cref="FramePadding.Center"/>.</summary>
    public readonly PadMode pad_mode;
    /// <summary>What the layer returns.</summary>
    public readonly SpectrumType output;

    // Named as its buffer: Module.to() replaces registered tensors and updates the field of the same name.
    // (A property of that name without a public setter makes Module.to() throw.)
    private Tensor window;

    /// <summary>The window, zero-padded to <see cref="n_fft"/> (the registered buffer "window").</summary>
    public Tensor Window => window;

    /// <summary>Creates the layer; see <see cref="AudioLayers.Stft"/> for the arguments.</summary>
    public Stft(string name, long n_fft, long? win_length, long? hop_length, WindowType window, FramePadding padding,
        PadMode pad_mode, SpectrumType output, ScalarType? dtype = null, Device? device = null) : base(name)
    {
        (this.n_fft, this.win_length, this.hop_length) = StftGeometry.Of(n_fft, win_length, hop_length);
        window_type = Check.Defined(window);
        this.padding = Check.Defined(padding);
        this.pad_mode = Check.Defined(pad_mode);
        this.output = Check.Defined(output);
        this.window = Functional.window(window, this.win_length, n_fft, padding, dtype, device);
        register_buffer("window", this.window);
    }

    /// <summary>Frames produced for an input of <paramref name="length"/> samples.</summary>
    public long frame_count(long length) => Functional.frame_count(length, n_fft, hop_length, win_length, padding);

    /// <summary>Computes the STFT.</summary>
    /// <param name="input">Signal <c>(..., time)</c>, float32 or float64, on any device.</param>
    /// <returns><c>(..., n_fft / 2 + 1, frames)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        if (!input.is_floating_point())
            throw new ArgumentException($"input must be a floating-point signal, got {input.dtype}", nameof(input));
        using var scope = NewDisposeScope();
        var spec = Functional.stft(input, n_fft, hop_length, window, padding, pad_mode, win_length);
        var result = output switch
        {
            SpectrumType.Power => Functional.power(spec),
            SpectrumType.Magnitude => Functional.magnitude(spec),
            _ => spec,
        };
        return result.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) window.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Factories for the audio layers, in the style of <c>torch.nn</c>.</summary>
public static partial class AudioLayers
{
    /// <summary>Short-time Fourier transform layer.</summary>
    /// <param name="n_fft">FFT length; <c>n_fft / 2 + 1</c> frequency bins. Default 512.</param>
    /// <param name="win_length">Window length, at most <paramref name="n_fft"/>; shorter windows are zero-padded.
    /// Default: <paramref name="n_fft"/>.</param>
    /// <param name="hop_length">Samples between frame starts. Default <c>win_length / 4</c> (librosa and Kapre).</param>
    /// <param name="window">Window shape (periodic). Default Hann.</param>
    /// <param name="padding">Framing: torch/librosa centring (default) or one of Kapre's conventions.</param>
    /// <param name="pad_mode">Fill for centring. Default reflect (torch.stft's default).</param>
    /// <param name="output">Complex spectrum (default, as Kapre's STFT), magnitude or power.</param>
    /// <param name="dtype">Type of the window buffer; default float32. Inputs of another type still work.</param>
    /// <param name="device">Device of the window buffer; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static Stft Stft(long n_fft = LayerDefaults.FftLength, long? win_length = null, long? hop_length = null, WindowType window = LayerDefaults.Window,
        FramePadding padding = LayerDefaults.Padding, PadMode pad_mode = LayerDefaults.PadMode, SpectrumType output = SpectrumType.Complex,
        ScalarType? dtype = null, Device? device = null, string name = "stft")
        => new(name, n_fft, win_length, hop_length, window, padding, pad_mode, output, dtype, device);
}
