// Delta features. Follows torchaudio.functional.compute_deltas 0.13 (BSD-2-Clause) and Kapre's Delta
// (kapre/time_frequency.py, MIT, which pads with tf.pad SYMMETRIC). No code was copied.

namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class Functional
{
    /// <summary>
    /// Deltas (local slopes) along the last dimension (torchaudio.functional.compute_deltas, Kapre <c>Delta</c>):
    /// <c>d[t] = Σₖ k (x[t + k] − x[t − k]) / (2 Σₖ k²)</c> for <c>k = 1 … (win_length − 1) / 2</c>, the ends padded by
    /// <paramref name="mode"/>.
    /// </summary>
    /// <param name="specgram">Features <c>(..., freq, time)</c>, or any tensor whose last dimension is time.</param>
    /// <param name="win_length">Odd window length, at least 3. Default 5 (torchaudio and Kapre).</param>
    /// <param name="mode">End padding: <see cref="DeltaPadding.Replicate"/> (torchaudio's default) or
    /// <see cref="DeltaPadding.Symmetric"/> (Kapre).</param>
    /// <returns>Deltas of the same shape.</returns>
    public static Tensor compute_deltas(Tensor specgram, long win_length = 5, DeltaPadding mode = DeltaPadding.Replicate)
    {
        ArgumentNullException.ThrowIfNull(specgram);
        if (specgram.dim() < 1 || !specgram.is_floating_point() || specgram.is_complex())
            throw new ArgumentException($"specgram must be real floating point with a time dimension, got {specgram.dtype} of shape [{string.Join(", ", specgram.shape)}]", nameof(specgram));
        if (win_length < 3 || win_length % 2 == 0)
            throw new ArgumentOutOfRangeException(nameof(win_length), win_length, $"win_length must be odd and at least 3, got: {win_length}");
        Check.Defined(mode);
        long n = (win_length - 1) / 2;
        long time = specgram.shape[^1];
        if (time < 1 || (mode == DeltaPadding.Symmetric && time < n))
            throw new ArgumentException($"specgram has {time} frames; {mode} padding of (win_length - 1) / 2 = {n} needs at least {(mode == DeltaPadding.Symmetric ? n : 1)}", nameof(specgram));

        // Both ends padded, then one convolution with the ramp [-n … n] takes the slopes; padding and ramp are made on
        // the signal's device (no upload per call).
        double denominator = n * (n + 1) * (2 * n + 1) / 3.0;
        using var scope = NewDisposeScope();
        var x = specgram.reshape(-1, 1, time);
        var padded = mode == DeltaPadding.Replicate ? nn.functional.pad(x, [n, n], PaddingModes.Replicate)
            : cat([x.narrow(-1, 0, n).flip(-1), x, x.narrow(-1, time - n, n).flip(-1)], -1); // symmetric: edges mirrored, edge sample included
        using var centre = ((double)-(n + 1)).ToScalar();
        var kernel = ones(new long[] { win_length }, specgram.dtype, specgram.device).cumsum(0).add(centre, HeldScalars.One).reshape(1, 1, win_length);
        using var denom = denominator.ToScalar();
        return nn.functional.conv1d(padded, kernel).div(denom).reshape(specgram.shape).MoveToOuterDisposeScope();
    }
}
