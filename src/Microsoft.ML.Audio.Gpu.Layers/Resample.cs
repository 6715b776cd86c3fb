namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Band-limited resampling layer (torchaudio <c>transforms.Resample</c>; Kapre has none): polyphase windowed-sinc
/// interpolation from <see cref="orig_freq"/> to <see cref="new_freq"/> Hz, as one strided conv1d.
/// </summary>
/// <remarks>
/// <para>Input: <c>(time)</c>, <c>(batch, time)</c> or <c>(batch, channels, time)</c>; any leading dimensions are kept.</para>
/// <para>Output: <c>(..., ⌈time · new_freq / orig_freq⌉)</c> (<see cref="output_length"/>) in the input's type.</para>
/// <para>The kernel <c>(new / g, 1, 2 · width + orig / g)</c> (rates divided by their gcd <c>g</c>) is built once in
/// float64, cast to <c>dtype</c> and registered as the buffer "kernel", so <c>module.to(device)</c> moves it too.
/// See <see cref="Functional.resample"/> for the method and its anti-aliasing.</para>
/// <example><code>
/// using var resample = AudioLayers.Resample(orig_freq: 44100, new_freq: 16000);
/// var y = resample.call(torch.randn(8, 44100)); // (8, 16000)
/// </code></example>
/// </remarks>
public sealed class Resample : nn.Module<Tensor, Tensor>
{
    /// <summary>Sample rate of the input, in Hz.</summary>
    public readonly long orig_freq;
    /// <summary>Sample rate of the output, in Hz.</summary>
    public readonly long new_freq;
    /// <summary>Zero crossings of the sinc on each side.</summary>
    public readonly long lowpass_filter_width;
    /// <summary>Cutoff as a fraction of the lower Nyquist frequency.</summary>
    public readonly double rolloff;
    /// <summary>Window of the sinc.</summary>
    public readonly ResamplingMethod resampling_method;
    /// <summary>Kaiser β; null for the Hann method.</summary>
    public readonly double? beta;
    /// <summary>Zeros padded before the signal: the kernel's reach into the past, in input samples.</summary>
    public readonly long width;

    // Named as its buffer: Module.to() replaces registered tensors and updates the field of the same name.
    private Tensor kernel;

    /// <summary>The polyphase kernel <c>(new / g, 1, 2 · width + orig / g)</c> (the registered buffer "kernel");
    /// <c>(1, 1, 1)</c> of 1 for equal rates.</summary>
    public Tensor Kernel => kernel;

    /// <summary>Creates the layer; see <see cref="AudioLayers.Resample"/> for the arguments.</summary>
    public Resample(string name, long orig_freq, long new_freq, long lowpass_filter_width, double rolloff,
        ResamplingMethod resampling_method, double? beta, ScalarType? dtype = null, Device? device = null) : base(name)
    {
        (kernel, width) = Functional.sinc_resample_kernel(orig_freq, new_freq, lowpass_filter_width, rolloff, resampling_method,
            beta, dtype, device);
        this.orig_freq = orig_freq;
        this.new_freq = new_freq;
        this.lowpass_filter_width = lowpass_filter_width;
        this.rolloff = rolloff;
        this.resampling_method = resampling_method;
        this.beta = resampling_method == ResamplingMethod.SincInterpKaiser ? beta ?? Functional.ResampleKaiserBeta : null;
        register_buffer("kernel", kernel);
    }

    /// <summary>Output samples for an input of <paramref name="length"/> samples.</summary>
    public long output_length(long length) => Functional.resampled_length(length, orig_freq, new_freq);

    /// <summary>Resamples the signal.</summary>
    /// <param name="input">Signal <c>(..., time)</c>, float32 or float64, on any device; the kernel is cast to it.</param>
    /// <returns><c>(..., ⌈time · new_freq / orig_freq⌉)</c>; an alias of the input when the rates are equal.</returns>
    public override Tensor forward(Tensor input)
    {
        Functional.CheckWaveform(input, nameof(input));
        if (orig_freq == new_freq) return input.alias();
        return Functional.ApplyResampleKernel(input, orig_freq, new_freq, kernel, width);
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
    /// <summary>Band-limited resampling layer (torchaudio <c>Resample</c>).</summary>
    /// <param name="orig_freq">Sample rate of the input, in Hz. Default 16000 (torchaudio's).</param>
    /// <param name="new_freq">Sample rate of the output, in Hz. Default 16000 (torchaudio's; equal rates pass the input through).</param>
    /// <param name="lowpass_filter_width">Zero crossings of the sinc on each side. Default 6 (torchaudio).</param>
    /// <param name="rolloff">Cutoff as a fraction of the lower Nyquist frequency, in (0, 1]. Default 0.99 (torchaudio).</param>
    /// <param name="resampling_method">Window of the sinc: Hann (default) or Kaiser.</param>
    /// <param name="beta">Kaiser β, for <see cref="ResamplingMethod.SincInterpKaiser"/> only; default 14.769656459379492.</param>
    /// <param name="dtype">Type of the kernel buffer; default float32. Inputs of another type still work.</param>
    /// <param name="device">Device of the kernel buffer; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static Resample Resample(long orig_freq = 16000, long new_freq = 16000, long lowpass_filter_width = Functional.ResampleLowpassFilterWidth,
        double rolloff = Functional.ResampleRolloff, ResamplingMethod resampling_method = ResamplingMethod.SincInterpHann, double? beta = null,
        ScalarType? dtype = null, Device? device = null, string name = "resample")
        => new(name, orig_freq, new_freq, lowpass_filter_width, rolloff, resampling_method, beta, dtype, device);
}
