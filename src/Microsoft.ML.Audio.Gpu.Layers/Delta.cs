namespace Microsoft.ML.Audio.Gpu.Layers;

// Explicit values, as the other layer enums, so that a persisted layer keeps its meaning: do not change them.

/// <summary>How <see cref="Delta"/> extends the features beyond their first and last frame.</summary>
public enum DeltaPadding
{
    /// <summary>Repeat the edge frame (torchaudio compute_deltas' default, torch "replicate").</summary>
    Replicate = 0,
    /// <summary>Mirror the features including the edge frame (Kapre's <c>Delta</c>, tf.pad "SYMMETRIC", numpy "symmetric").</summary>
    Symmetric = 1,
}

/// <summary>
/// Delta (local slope) features along time (Kapre <c>Delta</c>, torchaudio <c>ComputeDeltas</c>). See
/// <see cref="Functional.compute_deltas"/>.
/// </summary>
/// <remarks>
/// <para>Input: <c>(..., freq, time)</c>, e.g. a (log-)mel spectrogram; output: the same shape. Kapre, channels-last,
/// takes <c>(batch, time, freq, ch)</c>.</para>
/// <para>Stack it twice for delta-deltas.</para>
/// </remarks>
public sealed class Delta : nn.Module<Tensor, Tensor>
{
    /// <summary>Odd window length, at least 3.</summary>
    public readonly long win_length;
    /// <summary>End padding.</summary>
    public readonly DeltaPadding mode;

    /// <summary>Creates the layer; see <see cref="AudioLayers.Delta"/> for the arguments.</summary>
    public Delta(string name, long win_length, DeltaPadding mode) : base(name)
    {
        if (win_length < 3 || win_length % 2 == 0)
            throw new ArgumentOutOfRangeException(nameof(win_length), win_length, $"win_length must be odd and at least 3, got: {win_length}");
        this.win_length = win_length;
        this.mode = Check.Defined(mode);
    }

    /// <summary>Computes the deltas.</summary>
    /// <param name="input">Features <c>(..., freq, time)</c>.</param>
    /// <returns>Deltas, same shape.</returns>
    public override Tensor forward(Tensor input) => Functional.compute_deltas(input, win_length, mode);
}

public static partial class AudioLayers
{
    /// <summary>Delta layer.</summary>
    /// <param name="win_length">Odd window length, at least 3. Default 5 (torchaudio and Kapre).</param>
    /// <param name="mode">End padding: <see cref="DeltaPadding.Replicate"/> (default, torchaudio) or
    /// <see cref="DeltaPadding.Symmetric"/> (Kapre).</param>
    /// <param name="name">Module name.</param>
    public static Delta Delta(long win_length = 5, DeltaPadding mode = DeltaPadding.Replicate, string name = "delta")
        => new(name, win_length, mode);
}
