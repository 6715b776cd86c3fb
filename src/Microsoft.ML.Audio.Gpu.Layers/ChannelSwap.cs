namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Moves the channel axis between channels-first <c>(batch, channels, ...)</c>, the layout of these layers and of
/// torch, and channels-last <c>(batch, ..., channels)</c>, Keras' and Kapre's default (Kapre's <c>data_format</c>).
/// </summary>
/// <remarks>
/// <para>Input: at least 3 dimensions. To channels-last: <c>(batch, channels, freq, time)</c> →
/// <c>(batch, freq, time, channels)</c>; to channels-first: the reverse. Output is contiguous.</para>
/// </remarks>
public sealed class ChannelSwap : nn.Module<Tensor, Tensor>
{
    /// <summary>True: channels-first → channels-last; false: channels-last → channels-first.</summary>
    public readonly bool to_channels_last;

    /// <summary>Creates the layer; see <see cref="AudioLayers.ChannelSwap"/> for the arguments.</summary>
    public ChannelSwap(string name, bool to_channels_last) : base(name)
    {
        this.to_channels_last = to_channels_last;
    }

    /// <summary>Moves the channel axis.</summary>
    /// <param name="input"><c>(batch, channels, ...)</c> or <c>(batch, ..., channels)</c>, at least 3-D.</param>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        long rank = input.dim();
        if (rank < 3)
            throw new ArgumentException($"input must have a batch, a channel and at least one more axis, got shape [{string.Join(", ", input.shape)}]", nameof(input));
        long[] order = to_channels_last
            ? [0, .. Enumerable.Range(2, (int)rank - 2).Select(i => (long)i), 1]
            : [0, rank - 1, .. Enumerable.Range(1, (int)rank - 2).Select(i => (long)i)];
        using var view = input.permute(order);
        return view.contiguous();
    }
}

public static partial class AudioLayers
{
    /// <summary>Moves the channel axis between channels-first and channels-last.</summary>
    /// <param name="to_channels_last">True (default): <c>(batch, channels, ...)</c> → <c>(batch, ..., channels)</c>;
    /// false: the reverse.</param>
    /// <param name="name">Module name.</param>
    public static ChannelSwap ChannelSwap(bool to_channels_last = true, string name = "channelswap") => new(name, to_channels_last);
}
