namespace Microsoft.ML.Audio.Gpu.Layers;

// The numeric values of this enum may be written into saved models: do not change them.

/// <summary>Which entries of <c>(batch, channels, freq, time)</c> get their own mean and deviation in
/// <see cref="Normalization2D"/> (Kapre 2017's <c>str_axis</c>).</summary>
public enum NormalizationAxis
{
    /// <summary>One mean and deviation for the whole batch (Kapre <c>'batch'</c>).</summary>
    Batch = 0,
    /// <summary>Per example, over its channels, frequencies and frames (Kapre <c>'data_sample'</c>).</summary>
    Example = 1,
    /// <summary>Per channel, over the batch, frequencies and frames (Kapre <c>'channel'</c>).</summary>
    Channel = 2,
    /// <summary>Per frequency bin, over the batch, channels and frames (Kapre <c>'freq'</c>).</summary>
    Frequency = 3,
    /// <summary>Per frame, over the batch, channels and frequencies (Kapre <c>'time'</c>).</summary>
    Time = 4,
}

/// <summary>
/// Standardises a batch of spectrograms: <c>(x − mean) / (std + eps)</c>, with statistics per entry of one axis
/// (Kapre 2017 <c>Normalization2D</c>). The population deviation is used (Keras <c>K.std</c>).
/// </summary>
/// <remarks>
/// <para>Input and output: <c>(freq, time)</c>, <c>(batch, freq, time)</c> or <c>(batch, channels, freq, time)</c>
/// (channels first; see <see cref="ChannelSwap"/> for channels-last data).</para>
/// <para>As in Kapre, every axis but the kept one is reduced, the batch included: with <see cref="NormalizationAxis.Frequency"/>
/// or <see cref="NormalizationAxis.Time"/> an example's output depends on the rest of its batch. Use
/// <see cref="NormalizationAxis.Example"/> for outputs that do not.</para>
/// </remarks>
public sealed class Normalization2D : nn.Module<Tensor, Tensor>
{
    /// <summary>The axis whose entries get their own statistics.</summary>
    public readonly NormalizationAxis axis;
    /// <summary>Added to the deviation before dividing.</summary>
    public readonly double eps;

    /// <summary>Creates the layer; see <see cref="AudioLayers.Normalization2D"/> for the arguments.</summary>
    public Normalization2D(string name, NormalizationAxis axis, double eps) : base(name)
    {
        this.axis = Check.Defined(axis);
        this.eps = Check.NonNegative(eps);
    }

    /// <summary>Normalises the input.</summary>
    /// <param name="input"><c>(freq, time)</c>, <c>(batch, freq, time)</c> or <c>(batch, channels, freq, time)</c>.</param>
    /// <returns>Same shape.</returns>
    public override Tensor forward(Tensor input) => Functional.normalize_2d(input, axis, eps);
}

public static partial class AudioLayers
{
    /// <summary>Kapre 2017's Normalization2D.</summary>
    /// <param name="axis">Entries with their own statistics. Default <see cref="NormalizationAxis.Example"/>.</param>
    /// <param name="eps">Added to the deviation. Default 1e-10 (Kapre).</param>
    /// <param name="name">Module name.</param>
    public static Normalization2D Normalization2D(NormalizationAxis axis = NormalizationAxis.Example, double eps = 1e-10, string name = "normalization")
        => new(name, axis, eps);
}
