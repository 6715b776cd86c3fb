// Normalisation of a batch of spectrograms: Kapre 2017's Normalization2D (keunwoochoi/kapre, kapre/Utils.py at
// b1bbd88, MIT). No code was copied.

namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class Functional
{
    /// <summary>
    /// <c>(x − mean) / (std + eps)</c>, with the mean and the population standard deviation taken over every axis of
    /// <c>(batch, channels, freq, time)</c> except <paramref name="axis"/> (Kapre 2017 <c>Normalization2D</c>).
    /// </summary>
    /// <param name="input"><c>(freq, time)</c>, <c>(batch, freq, time)</c> or <c>(batch, channels, freq, time)</c>;
    /// missing axes count as size 1.</param>
    /// <param name="axis">The axis whose entries get their own statistics; <see cref="NormalizationAxis.Batch"/> uses one
    /// mean and deviation for the whole tensor.</param>
    /// <param name="eps">Added to the deviation before dividing; at least 0.</param>
    /// <returns>Same shape as <paramref name="input"/>.</returns>
    public static Tensor normalize_2d(Tensor input, NormalizationAxis axis, double eps = 1e-10)
    {
        ArgumentNullException.ThrowIfNull(input);
        Check.Defined(axis);
        Check.NonNegative(eps);
        if (input.dim() is < 2 or > 4)
            throw new ArgumentException($"input must be (freq, time), (batch, freq, time) or (batch, channels, freq, time), got shape [{string.Join(", ", input.shape)}]", nameof(input));
        if (!input.is_floating_point())
            throw new ArgumentException($"input must be floating point, got {input.dtype}", nameof(input));
        using var scope = NewDisposeScope();
        long[] shape4 = input.dim() switch
        {
            2 => [1, 1, input.shape[0], input.shape[1]],
            3 => [input.shape[0], 1, input.shape[1], input.shape[2]],
            _ => input.shape,
        };
        var x = input.reshape(shape4);
        long keep = axis switch
        {
            NormalizationAxis.Example => 0,
            NormalizationAxis.Channel => 1,
            NormalizationAxis.Frequency => 2,
            NormalizationAxis.Time => 3,
            _ => -1,
        };
        long[] dims = [.. Enumerable.Range(0, 4).Select(i => (long)i).Where(i => i != keep)];
        var mean = x.mean(dims, keepdim: true);
        using var epsScalar = eps.ToScalar();
        var std = x.std(dims, unbiased: false, keepdim: true).add(epsScalar, HeldScalars.One);
        return x.sub(mean).div(std).reshape(input.shape).MoveToOuterDisposeScope();
    }
}
