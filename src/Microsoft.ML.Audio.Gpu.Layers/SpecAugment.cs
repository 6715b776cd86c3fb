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
        long examples = input.dim() >= 3 ? input.shape[0] : 1;
        long freq = input.shape[^2], time = input.shape[^1];
        // The masks are drawn on the host (a few numbers per example) and sent as one boolean tensor: no per-example
        // kernels, and no temporary scalars, whose early finalisation TorchSharp does not guard against.
        var masked = new bool[examples * freq * time];
        int draws = 2 * (freq_mask_count + time_mask_count);
        float[] u;
        using (var uniforms = rand(new long[] { examples, Math.Max(1, draws) }))
            u = uniforms.data<float>().ToArray();
        for (long e = 0; e < examples; e++)
        {
            int k = (int)(e * Math.Max(1, draws));
            for (int m = 0; m < freq_mask_count; m++, k += 2)
            {
                var (from, to) = Span(u[k], u[k + 1], freq, freq_mask_width);
                for (long f = from; f < to; f++) Array.Fill(masked, true, (int)((e * freq + f) * time), (int)time);
            }
            for (int m = 0; m < time_mask_count; m++, k += 2)
            {
                var (from, to) = Span(u[k], u[k + 1], time, time_mask_width);
                for (long f = 0; f < freq; f++) Array.Fill(masked, true, (int)((e * freq + f) * time + from), (int)(to - from));
            }
        }
        long[] shape = input.dim() >= 3
            ? [examples, .. Enumerable.Repeat(1L, (int)input.dim() - 3), freq, time]
            : [freq, time];
        using var mask = tensor(masked, shape, device: input.device);
        using var fill = mask_value.ToScalar();
        return input.masked_fill(mask, fill);
    }

    /// <summary>A span <c>[from, to)</c> of width uniform in <c>[0, width]</c> and start uniform over what remains (torchaudio's draw).</summary>
    private static (long from, long to) Span(float uWidth, float uStart, long size, int width)
    {
        long w = Math.Min((long)(uWidth * (Math.Min(width, size) + 1)), Math.Min(width, size));
        long start = Math.Min((long)(uStart * (size - w + 1)), size - w);
        return (start, start + w);
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
