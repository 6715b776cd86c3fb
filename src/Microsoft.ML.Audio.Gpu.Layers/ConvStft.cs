using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// A short-time Fourier transform computed as a strided conv1d whose kernels start as the windowed Fourier basis
/// and can be learned (Kapre 2017 <c>Spectrogram(trainable_kernel=True)</c>). At initialisation it equals
/// <see cref="Stft"/> with the same settings, up to float32 summation order.
/// </summary>
/// <remarks>
/// <para>Input: <c>(time)</c>, <c>(batch, time)</c> or <c>(batch, channels, time)</c>; any leading dimensions are kept.</para>
/// <para>Output: <c>(..., n_fft / 2 + 1, frames)</c>, power, magnitude or complex. Framing is torch's:
/// <see cref="FramePadding.Center"/> (with <see cref="PadMode"/>) or <see cref="FramePadding.NoCenter"/>.</para>
/// <para>The kernels <c>(2 · (n_fft / 2 + 1), 1, n_fft)</c> (cosines, then negated sines, each times the window)
/// are the parameter "kernel" when trainable, else the buffer "kernel". The magnitude is <c>sqrt(max(power, 1e-30))</c>,
/// so silent frames give finite gradients. An FFT is faster; use this layer when the basis should be learned.</para>
/// </remarks>
public sealed class ConvStft : nn.Module<Tensor, Tensor>
{
    // Floor under the power before the square root: keeps the gradient of |X| finite where X = 0.
    private const double MagnitudeFloor = 1e-30;

    /// <summary>FFT length (kernel length).</summary>
    public readonly long n_fft;
    /// <summary>Window length; at most <see cref="n_fft"/>, centred in the kernel.</summary>
    public readonly long win_length;
    /// <summary>Samples between frame starts (the conv's stride).</summary>
    public readonly long hop_length;
    /// <summary>Initial window shape.</summary>
    public readonly WindowType window_type;
    /// <summary>Framing: <see cref="FramePadding.Center"/> or <see cref="FramePadding.NoCenter"/>.</summary>
    public readonly FramePadding padding;
    /// <summary>Fill used by <see cref="FramePadding.Center"/>.</summary>
    public readonly PadMode pad_mode;
    /// <summary>What the layer returns.</summary>
    public readonly SpectrumType output;
    /// <summary>Whether the kernels are a trainable parameter.</summary>
    public readonly bool trainable;

    // Named as its parameter or buffer: Module.to() replaces registered tensors and updates the field of the same name.
    private Tensor kernel;

    /// <summary>The kernels <c>(2 · (n_fft / 2 + 1), 1, n_fft)</c>: the parameter or buffer "kernel".</summary>
    public Tensor Kernel => kernel;

    /// <summary>Creates the layer; see <see cref="AudioLayers.ConvStft"/> for the arguments.</summary>
    public ConvStft(string name, long n_fft, long? win_length, long? hop_length, WindowType window, FramePadding padding, PadMode pad_mode,
        SpectrumType output, bool trainable, ScalarType? dtype = null, Device? device = null) : base(name)
    {
        (this.n_fft, this.win_length, this.hop_length) = StftGeometry.Of(n_fft, win_length, hop_length);
        window_type = Check.Defined(window);
        if (Check.Defined(padding) is not (FramePadding.Center or FramePadding.NoCenter))
            throw new ArgumentOutOfRangeException(nameof(padding), padding, $"padding must be Center or NoCenter, got: {padding}");
        this.padding = padding;
        this.pad_mode = Check.Defined(pad_mode);
        this.output = Check.Defined(output);
        this.trainable = trainable;
        using (var w = Functional.window(window, this.win_length, n_fft, FramePadding.Center, ScalarType.Float64))
            kernel = Functional.dft_kernels(w, dtype, device);
        if (trainable)
        {
            var p = new Parameter(kernel, requires_grad: true);
            register_parameter("kernel", p);
            kernel = p;
        }
        else
        {
            register_buffer("kernel", kernel);
        }
    }

    /// <summary>Frames produced for an input of <paramref name="length"/> samples (0 when it is too short).</summary>
    public long frame_count(long length)
    {
        long padded = length + (padding == FramePadding.Center ? 2 * (n_fft / 2) : 0);
        return padded >= n_fft ? 1 + (padded - n_fft) / hop_length : 0;
    }

    /// <summary>Computes the STFT with the current kernels.</summary>
    /// <param name="input">Signal <c>(..., time)</c>, floating point.</param>
    /// <returns><c>(..., n_fft / 2 + 1, frames)</c>.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() < 1 || !input.is_floating_point())
            throw new ArgumentException($"input must be a floating-point signal (..., time), got {input.dtype} of shape [{string.Join(", ", input.shape)}]", nameof(input));
        long length = input.shape[^1];
        long frames = frame_count(length);
        if (frames < 1)
            throw new ArgumentException($"input has {length} samples, fewer than one frame of n_fft = {n_fft} with {padding} framing", nameof(input));
        if (padding == FramePadding.Center && pad_mode == PadMode.Reflect && length <= n_fft / 2)
            throw new ArgumentException($"input has {length} samples; reflect padding of n_fft / 2 = {n_fft / 2} needs more. Use PadMode.Constant or a longer signal", nameof(input));

        using var scope = NewDisposeScope();
        var leading = input.shape[..^1];
        var x = input.reshape(-1, 1, length);
        if (padding == FramePadding.Center)
            x = nn.functional.pad(x, [n_fft / 2, n_fft / 2], pad_mode == PadMode.Reflect ? PaddingModes.Reflect : PaddingModes.Constant);
        var k = kernel.dtype == x.dtype && Devices.SameDevice(kernel.device, x.device) ? kernel : kernel.to(x.dtype, x.device);
        var y = nn.functional.conv1d(x, k, stride: hop_length); // (batch, 2 · bins, frames)
        long bins = n_fft / 2 + 1;
        var re = y.narrow(1, 0, bins);
        var im = y.narrow(1, bins, bins);
        Tensor result;
        if (output == SpectrumType.Complex)
        {
            result = complex(re, im);
        }
        else
        {
            result = re.pow(HeldScalars.Two).add(im.pow(HeldScalars.Two), HeldScalars.One);
            if (output == SpectrumType.Magnitude)
            {
                using var floor = MagnitudeFloor.ToScalar();
                result = result.clamp_min(floor).sqrt();
            }
        }
        long[] shape = [.. leading, bins, frames];
        return result.reshape(shape).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) kernel.Dispose();
        base.Dispose(disposing);
    }
}

public static partial class AudioLayers
{
    /// <summary>Trainable STFT: a conv1d initialised with the windowed Fourier basis.</summary>
    /// <param name="n_fft">FFT length; <c>n_fft / 2 + 1</c> frequency bins. Default 512.</param>
    /// <param name="win_length">Window length, at most <paramref name="n_fft"/>; centred and zero-padded. Default <paramref name="n_fft"/>.</param>
    /// <param name="hop_length">Samples between frame starts. Default <c>win_length / 4</c> (librosa and Kapre).</param>
    /// <param name="window">Initial window (periodic). Default Hann.</param>
    /// <param name="padding"><see cref="FramePadding.Center"/> (default, torch/librosa) or <see cref="FramePadding.NoCenter"/>.</param>
    /// <param name="pad_mode">Fill for centring. Default reflect (torch.stft's default).</param>
    /// <param name="output">Power (default), magnitude or complex.</param>
    /// <param name="trainable">Learn the kernels (Kapre 2017's <c>trainable_kernel</c>). Default true.</param>
    /// <param name="dtype">Type of the kernels; default float32.</param>
    /// <param name="device">Device of the kernels; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static ConvStft ConvStft(long n_fft = LayerDefaults.FftLength, long? win_length = null, long? hop_length = null,
        WindowType window = LayerDefaults.Window, FramePadding padding = LayerDefaults.Padding, PadMode pad_mode = LayerDefaults.PadMode,
        SpectrumType output = SpectrumType.Power, bool trainable = true, ScalarType? dtype = null, Device? device = null, string name = "convstft")
        => new(name, n_fft, win_length, hop_length, window, padding, pad_mode, output, trainable, dtype, device);
}
