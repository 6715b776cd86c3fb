using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// SpecAugment's frequency and time masking (Park et al., 2019; torchaudio <c>FrequencyMasking</c> and
/// <c>TimeMasking</c>; Kapre <c>SpecAugment</c>): while the module is training, each example gets
/// <see cref="freq_mask_count"/> bands of up to <see cref="freq_mask_width"/> bins and <see cref="time_mask_count"/> spans
/// of up to <see cref="time_mask_width"/> frames set to <see cref="mask_value"/>. In evaluation mode it is the identity.
/// </summary>
/// <remarks>
/// <para>Input and output: <c>(..., freq, time)</c>; masks are drawn per example (the first dimension when there are 3
/// or more) and shared by that example's channels. Widths are uniform in <c>[0, width]</c>; starts uniform over the
/// remaining positions, as torchaudio draws them. The masks are built on the input's device from the global torch
/// generator, so <c>torch.random.manual_seed</c> makes them repeatable.</para>
/// </remarks>
public sealed class SpecAugment : nn.Module<Tensor, Tensor>
{
    /// <summary>Frequency masks per example.</summary>
    public readonly int freq_mask_count;
    /// <summary>Largest frequency mask, in bins.</summary>
    public readonly int freq_mask_width;
    /// <summary>Time masks per example.</summary>
    public readonly int time_mask_count;
    /// <summary>Largest time mask, in frames.</summary>
    public readonly int time_mask_width;
    /// <summary>Value written into the masked cells (0 for normalised features; the minimum dB for raw log-mel).</summary>
    public readonly double mask_value;

    /// <summary>Creates the layer; see <see cref="AudioLayers.SpecAugment"/> for the arguments.</summary>
    public SpecAugment(string name, int freq_mask_count, int freq_mask_width, int time_mask_count, int time_mask_width, double mask_value)
        : base(name)
    {
        this.freq_mask_count = (int)Check.NonNegative(freq_mask_count);
        this.freq_mask_width = (int)Check.NonNegative(freq_mask_width);
        this.time_mask_count = (int)Check.NonNegative(time_mask_count);
        this.time_mask_width = (int)Check.NonNegative(time_mask_width);
        this.mask_value = Check.Finite(mask_value);
    }

    /// <summary>Masks the input while training; returns it unchanged otherwise.</summary>
    /// <param name="input">Spectrogram <c>(..., freq, time)</c>.</param>
    public override Tensor forward(Tensor input)
    {
        if (!training || (freq_mask_count == 0 && time_mask_count == 0)) return input.alias();
        if (input.dim() < 2)
            throw new ArgumentException($"input must be (..., freq, time), got shape [{string.Join(", ", input.shape)}]", nameof(input));
        using var scope = NewDisposeScope();
        long examples = input.dim() >= 3 ? input.shape[0] : 1;
        long freq = input.shape[^2], time = input.shape[^1];
        // keep: (examples, freq, time) booleans, broadcast over channels.
        var keep = ones(new long[] { examples, freq, 1 }, ScalarType.Bool, input.device)
            .logical_and(Masks(examples, freq, freq_mask_count, freq_mask_width, input.device).unsqueeze(-1).logical_not());
        var keepTime = Masks(examples, time, time_mask_count, time_mask_width, input.device).logical_not().unsqueeze(1);
        var mask = keep.logical_and(keepTime); // (examples, freq, time)
        var shape = input.dim() >= 3
            ? (long[])[examples, .. Enumerable.Repeat(1L, (int)input.dim() - 3), freq, time]
            : [freq, time];
        var result = input.where(mask.reshape(shape), mask_value);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>(examples, size) booleans: true inside one of <paramref name="count"/> random spans of up to <paramref name="width"/>.</summary>
    private static Tensor Masks(long examples, long size, int count, int width, Device device)
    {
        var masked = zeros(new long[] { examples, size }, ScalarType.Bool, device);
        if (count == 0 || width == 0) return masked;
        var positions = arange(size, device: device).unsqueeze(0); // (1, size)
        for (int k = 0; k < count; k++)
        {
            var w = (rand(new long[] { examples, 1 }, device: device) * (Math.Min(width, size) + 1)).floor();
            var start = (rand(new long[] { examples, 1 }, device: device) * (size - w + 1)).floor();
            masked = masked.logical_or(positions.ge(start).logical_and(positions.lt(start + w)));
        }
        return masked;
    }
}

public static partial class AudioLayers
{
    /// <summary>SpecAugment frequency and time masking, active only in training mode.</summary>
    /// <param name="freq_mask_count">Frequency masks per example. Default 2.</param>
    /// <param name="freq_mask_width">Largest frequency mask in bins. Default 8.</param>
    /// <param name="time_mask_count">Time masks per example. Default 2.</param>
    /// <param name="time_mask_width">Largest time mask in frames. Default 10.</param>
    /// <param name="mask_value">Value of masked cells. Default 0.</param>
    /// <param name="name">Module name.</param>
    public static SpecAugment SpecAugment(int freq_mask_count = 2, int freq_mask_width = 8, int time_mask_count = 2, int time_mask_width = 10,
        double mask_value = 0, string name = "specaugment")
        => new(name, freq_mask_count, freq_mask_width, time_mask_count, time_mask_width, mask_value);
}
