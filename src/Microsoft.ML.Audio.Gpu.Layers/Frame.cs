namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Cuts a signal into overlapping frames (Kapre <c>Frame</c>, tf.signal.frame; torch's <c>Tensor.unfold</c>). See
/// <see cref="Functional.frame"/>.
/// </summary>
/// <remarks>
/// <para>Input: <c>(time)</c>, <c>(batch, time)</c> or <c>(batch, channels, time)</c>; any leading dimensions are kept.</para>
/// <para>Output: <c>(..., frames, frame_length)</c> (Kapre, channels-last, gives <c>(batch, frames, frame_length, ch)</c>).</para>
/// </remarks>
public sealed class Frame : nn.Module<Tensor, Tensor>
{
    /// <summary>Samples per frame.</summary>
    public readonly long frame_length;
    /// <summary>Samples between frame starts.</summary>
    public readonly long hop_length;
    /// <summary>Whether the last frames are completed with <see cref="pad_value"/>.</summary>
    public readonly bool pad_end;
    /// <summary>Fill for <see cref="pad_end"/>.</summary>
    public readonly double pad_value;

    /// <summary>Creates the layer; see <see cref="AudioLayers.Frame"/> for the arguments.</summary>
    public Frame(string name, long frame_length, long hop_length, bool pad_end, double pad_value) : base(name)
    {
        this.frame_length = Check.Positive(frame_length);
        this.hop_length = Check.Positive(hop_length);
        this.pad_end = pad_end;
        this.pad_value = Check.Finite(pad_value);
    }

    /// <summary>Frames the signal.</summary>
    /// <param name="input">Signal <c>(..., time)</c>.</param>
    /// <returns><c>(..., frames, frame_length)</c>.</returns>
    public override Tensor forward(Tensor input) => Functional.frame(input, frame_length, hop_length, pad_end, pad_value);
}

/// <summary>
/// Energy per frame, normalised to a reference duration (Kapre <c>Energy</c>; torchaudio has no equivalent). See
/// <see cref="Functional.energy"/>.
/// </summary>
/// <remarks>
/// <para>Input: <c>(..., time)</c>. Output: <c>(..., frames)</c> (Kapre, channels-last, gives <c>(batch, frames, ch)</c>).</para>
/// </remarks>
public sealed class Energy : nn.Module<Tensor, Tensor>
{
    /// <summary>Sample rate in Hz.</summary>
    public readonly double sample_rate;
    /// <summary>Duration in seconds the energy is normalised to.</summary>
    public readonly double ref_duration;
    /// <summary>Samples per frame.</summary>
    public readonly long frame_length;
    /// <summary>Samples between frame starts.</summary>
    public readonly long hop_length;
    /// <summary>Whether the last frames are completed with <see cref="pad_value"/>.</summary>
    public readonly bool pad_end;
    /// <summary>Fill for <see cref="pad_end"/>.</summary>
    public readonly double pad_value;

    /// <summary>Creates the layer; see <see cref="AudioLayers.Energy"/> for the arguments.</summary>
    public Energy(string name, double sample_rate, double ref_duration, long frame_length, long hop_length, bool pad_end, double pad_value)
        : base(name)
    {
        this.sample_rate = Check.Positive(sample_rate);
        this.ref_duration = Check.Positive(ref_duration);
        this.frame_length = Check.Positive(frame_length);
        this.hop_length = Check.Positive(hop_length);
        this.pad_end = pad_end;
        this.pad_value = Check.Finite(pad_value);
    }

    /// <summary>Computes the energies.</summary>
    /// <param name="input">Signal <c>(..., time)</c>.</param>
    /// <returns><c>(..., frames)</c>.</returns>
    public override Tensor forward(Tensor input)
        => Functional.energy(input, sample_rate, ref_duration, frame_length, hop_length, pad_end, pad_value);
}

public static partial class AudioLayers
{
    /// <summary>Framing layer (Kapre <c>Frame</c>).</summary>
    /// <param name="frame_length">Samples per frame.</param>
    /// <param name="hop_length">Samples between frame starts.</param>
    /// <param name="pad_end">Complete the last frames with <paramref name="pad_value"/>: <c>ceil(time / hop)</c> frames.
    /// Default false (Kapre): only whole frames.</param>
    /// <param name="pad_value">Fill for <paramref name="pad_end"/>. Default 0.</param>
    /// <param name="name">Module name.</param>
    public static Frame Frame(long frame_length, long hop_length, bool pad_end = false, double pad_value = 0, string name = "frame")
        => new(name, frame_length, hop_length, pad_end, pad_value);

    /// <summary>Frame energy layer (Kapre <c>Energy</c>); defaults are Kapre's (100 ms frames, 50 % overlap at 22.05 kHz).</summary>
    /// <param name="sample_rate">Sample rate in Hz. Default 22050.</param>
    /// <param name="ref_duration">Duration in seconds the energy is normalised to. Default 0.1.</param>
    /// <param name="frame_length">Samples per frame. Default 2205.</param>
    /// <param name="hop_length">Samples between frame starts. Default 1102.</param>
    /// <param name="pad_end">Complete the last frames with <paramref name="pad_value"/>. Default false.</param>
    /// <param name="pad_value">Fill for <paramref name="pad_end"/>. Default 0.</param>
    /// <param name="name">Module name.</param>
    public static Energy Energy(double sample_rate = 22050, double ref_duration = 0.1, long frame_length = 2205, long hop_length = 1102,
        bool pad_end = false, double pad_value = 0, string name = "energy")
        => new(name, sample_rate, ref_duration, frame_length, hop_length, pad_end, pad_value);
}
