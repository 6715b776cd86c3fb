namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Power or magnitude to decibels, with an optional per-example dynamic range (Kapre <c>MagnitudeToDecibel</c>,
/// torchaudio <c>AmplitudeToDB</c>, librosa <c>power_to_db</c> with a fixed <c>ref</c>).
/// </summary>
/// <remarks>
/// <para>Input: non-negative <c>(freq, frames)</c> (one example), <c>(batch, freq, frames)</c> or
/// <c>(batch, channels, freq, frames)</c>. Output: same shape, in dB.</para>
/// <para><c>10 · log10(max(x, amin)) − 10 · log10(max(amin, ref))</c> for power (20 for magnitude); with
/// <c>top_db</c>, values below each example's maximum minus <c>top_db</c> are raised to it. An example is the whole
/// tensor for 2-D input and each entry of the first dimension otherwise.</para>
/// </remarks>
public sealed class AmplitudeToDecibel : nn.Module<Tensor, Tensor>
{
    /// <summary>Whether the input is power (multiplier 10) or magnitude (multiplier 20).</summary>
    public readonly SpectrumType input_type;
    /// <summary>Value mapped to 0 dB.</summary>
    public readonly double reference;
    /// <summary>Floor applied before the logarithm.</summary>
    public readonly double amin;
    /// <summary>Dynamic range kept below each example's maximum; null keeps everything.</summary>
    public readonly double? top_db;

    /// <summary>Creates the layer; see <see cref="AudioLayers.AmplitudeToDecibel"/> for the arguments.</summary>
    public AmplitudeToDecibel(string name, SpectrumType input_type, double reference, double amin, double? top_db) : base(name)
    {
        if (Check.Defined(input_type) == SpectrumType.Complex)
            throw new ArgumentOutOfRangeException(nameof(input_type), input_type, "input_type must be Power or Magnitude, got: Complex");
        this.input_type = input_type;
        this.reference = Check.Positive(reference);
        this.amin = Check.Positive(amin);
        if (top_db is double t) Check.NonNegative(t, nameof(top_db));
        this.top_db = top_db;
    }

    /// <summary>10 for power, 20 for magnitude.</summary>
    public double multiplier => input_type == SpectrumType.Power ? 10.0 : 20.0;

    /// <summary>Converts to decibels.</summary>
    /// <param name="input">Non-negative power or magnitude.</param>
    /// <returns>Same shape, in dB.</returns>
    public override Tensor forward(Tensor input) => Functional.amplitude_to_DB(input, multiplier, amin, reference, top_db);
}

public static partial class AudioLayers
{
    /// <summary>Power or magnitude to decibels.</summary>
    /// <param name="input_type">Power (default; multiplier 10) or magnitude (multiplier 20).</param>
    /// <param name="reference">Value mapped to 0 dB. Default 1.0 (torchaudio, Kapre).</param>
    /// <param name="amin">Floor before the logarithm. Default 1e-10 (torchaudio, librosa's power_to_db); Kapre uses 1e-5 for magnitudes.</param>
    /// <param name="top_db">Dynamic range in dB below each example's maximum; null (default, torchaudio) keeps everything. Kapre and librosa use 80.</param>
    /// <param name="name">Module name.</param>
    public static AmplitudeToDecibel AmplitudeToDecibel(SpectrumType input_type = SpectrumType.Power, double reference = LayerDefaults.Reference,
        double amin = LayerDefaults.Amin, double? top_db = null, string name = "db")
        => new(name, input_type, reference, amin, top_db);
}
