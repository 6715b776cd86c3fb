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
/// remaining positions, as torchaudio draws them. The masks are drawn and built on the input's device from the global
/// torch generator (no host round trip in a training step), so <c>torch.random.manual_seed</c> makes them repeatable.</para>
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
        using var scope = NewDisposeScope();
        // Everything is drawn and built on the input's device: no host round trip in the training step. Per example,
        // the uniforms are (width, start) pairs, the frequency masks' first.
        int draws = 2 * (freq_mask_count + time_mask_count);
        var u = rand(new long[] { examples, draws }, device: input.device);
        var inFreq = Bands(u.narrow(1, 0, 2 * freq_mask_count), freq_mask_count, freq, freq_mask_width);       // (examples, freq)
        var inTime = Bands(u.narrow(1, 2 * freq_mask_count, 2 * time_mask_count), time_mask_count, time, time_mask_width); // (examples, time)
        var mask = inFreq.unsqueeze(2).logical_or(inTime.unsqueeze(1)); // (examples, freq, time)
        long[] shape = input.dim() >= 3
            ? [examples, .. Enumerable.Repeat(1L, (int)input.dim() - 3), freq, time]
            : [freq, time];
        using var fill = mask_value.ToScalar();
        return input.masked_fill(mask.reshape(shape), fill).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Which of <paramref name="size"/> positions the <paramref name="count"/> masks of each example cover, from the
    /// uniforms <c>(examples, 2 · count)</c>: per mask a width uniform in <c>[0, min(width, size)]</c> and a start uniform
    /// over what remains (torchaudio's draw). Returns <c>(examples, size)</c> booleans.
    /// </summary>
    private static Tensor Bands(Tensor uniforms, int count, long size, int width)
    {
        long examples = uniforms.shape[0];
        var device = uniforms.device;
        if (count == 0) return zeros(new long[] { examples, size }, ScalarType.Bool, device);
        long most = Math.Min(width, size);
        using var scope = NewDisposeScope();
        var pairs = uniforms.reshape(examples, count, 2);
        using var widthSteps = ((double)(most + 1)).ToScalar();
        using var widest = ((double)most).ToScalar();
        var w = pairs.select(2, 0).mul(widthSteps).floor().clamp_max(widest);                  // (examples, count)
        using var sizeScalar = ((double)size).ToScalar();
        var last = w.neg().add(sizeScalar, HeldScalars.One);                                     // size − w: the last start
        var from = pairs.select(2, 1).mul(last.add(HeldScalars.One, HeldScalars.One)).floor().minimum(last);
        var to = from.add(w, HeldScalars.One);
        // Position p (1-based, so no subtraction) is covered when from < p ≤ to.
        var p = ones(new long[] { size }, ScalarType.Float32, device).cumsum(0).reshape(1, 1, size);
        return p.gt(from.unsqueeze(2)).logical_and(p.le(to.unsqueeze(2))).any(1).MoveToOuterDisposeScope();
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
