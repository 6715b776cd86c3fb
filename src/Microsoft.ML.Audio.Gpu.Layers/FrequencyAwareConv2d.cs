using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Frequency-aware 2-D convolution (Koutini, Eghbal-zadeh and Widmer, "Receptive-field-regularized CNN variants for
/// acoustic scene classification", DCASE 2019; Kapre's <c>get_frequency_aware_conv2d</c>): a channel holding each
/// bin's frequency coordinate, from −1 (lowest) to 1 (highest) as in CoordConv, is appended to the input before an
/// ordinary <c>Conv2d</c>, so the filters can depend on where in frequency they are. Kapre's map runs from 0 to 1.
/// </summary>
/// <remarks>
/// <para>Input: <c>(batch, in_channels, freq, time)</c> or <c>(in_channels, freq, time)</c>.</para>
/// <para>Output: <c>(batch, out_channels, freq', time')</c> with the sizes of <c>Conv2d</c>; the convolution (the
/// submodule <see cref="conv"/>, with <c>in_channels + 1</c> input channels) is trainable.</para>
/// </remarks>
public sealed class FrequencyAwareConv2d : nn.Module<Tensor, Tensor>
{
    /// <summary>Channels of the input, without the frequency map.</summary>
    public readonly long in_channels;
    /// <summary>Channels of the output.</summary>
    public readonly long out_channels;
    /// <summary>The convolution over the input and the frequency map.</summary>
    public readonly Conv2d conv;

    /// <summary>Creates the layer; see <see cref="AudioLayers.FrequencyAwareConv2d"/> for the arguments.</summary>
    public FrequencyAwareConv2d(string name, long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0,
        long dilation = 1, bool bias = true, ScalarType? dtype = null, Device? device = null) : base(name)
    {
        this.in_channels = Check.Positive(in_channels);
        this.out_channels = Check.Positive(out_channels);
        Check.Positive(kernel_size);
        Check.Positive(stride);
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, $"padding must not be negative, got: {padding}");
        Check.Positive(dilation);
        conv = Lifetimes.Layer(() => nn.Conv2d(in_channels + 1, out_channels, kernel_size, stride: stride, padding: padding, dilation: dilation, bias: bias,
            device: device, dtype: dtype));
        register_module("conv", conv);
    }

    /// <summary>Appends the frequency map and convolves.</summary>
    /// <param name="input"><c>(batch, in_channels, freq, time)</c> or <c>(in_channels, freq, time)</c>.</param>
    /// <returns><c>(batch, out_channels, freq', time')</c>, or without the batch axis for 3-D input.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() is not (3 or 4) || input.shape[^3] != in_channels)
            throw new ArgumentException($"input must be (batch, in_channels = {in_channels}, freq, time) or (in_channels, freq, time), got shape [{string.Join(", ", input.shape)}]", nameof(input));
        using var scope = NewDisposeScope();
        bool unbatched = input.dim() == 3;
        var y = conv.call(Functional.concatenate_frequency_map(unbatched ? input.unsqueeze(0) : input));
        return (unbatched ? y.squeeze(0) : y).MoveToOuterDisposeScope();
    }
}

/// <summary>Appends a −1…1 frequency-coordinate channel (Kapre <c>ConcatenateFrequencyMap</c>, channels first).</summary>
/// <remarks>Input <c>(batch, channels, freq, time)</c> or <c>(channels, freq, time)</c>; output with one more channel.</remarks>
public sealed class ConcatenateFrequencyMap : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public ConcatenateFrequencyMap(string name = "frequency_map") : base(name) { }

    /// <summary>Appends the map.</summary>
    public override Tensor forward(Tensor input) => Functional.concatenate_frequency_map(input);
}

public static partial class AudioLayers
{
    /// <summary>Appends a −1…1 frequency-coordinate channel (Kapre <c>ConcatenateFrequencyMap</c>).</summary>
    /// <param name="name">Module name.</param>
    public static ConcatenateFrequencyMap ConcatenateFrequencyMap(string name = "frequency_map") => new(name);

    /// <summary>Frequency-aware Conv2d: a −1…1 frequency-coordinate channel is appended before the convolution.</summary>
    /// <param name="in_channels">Channels of the input (the map is added to these).</param>
    /// <param name="out_channels">Channels of the output.</param>
    /// <param name="kernel_size">Square kernel size.</param>
    /// <param name="stride">Stride. Default 1.</param>
    /// <param name="padding">Zero padding on each side. Default 0.</param>
    /// <param name="dilation">Dilation. Default 1.</param>
    /// <param name="bias">Learn a bias. Default true.</param>
    /// <param name="dtype">Type of the weights; default float32.</param>
    /// <param name="device">Device of the weights; default CPU.</param>
    /// <param name="name">Module name.</param>
    public static FrequencyAwareConv2d FrequencyAwareConv2d(long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0,
        long dilation = 1, bool bias = true, ScalarType? dtype = null, Device? device = null, string name = "freqconv")
        => new(name, in_channels, out_channels, kernel_size, stride, padding, dilation, bias, dtype, device);
}
