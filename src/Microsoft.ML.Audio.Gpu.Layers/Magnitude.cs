namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>Magnitude <c>|X|</c> of a complex spectrum (Kapre <c>Magnitude</c>).</summary>
/// <remarks>Input: complex, any shape, e.g. <c>(..., freq, frames)</c> from <see cref="Stft"/>. Output: real, same shape.</remarks>
public sealed class Magnitude : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public Magnitude(string name = "magnitude") : base(name) { }

    /// <summary>Returns <c>|input|</c>.</summary>
    public override Tensor forward(Tensor input) => Functional.magnitude(input);
}

/// <summary>Phase <c>angle(X)</c> in radians, in (-π, π], of a complex spectrum (Kapre <c>Phase</c>).</summary>
/// <remarks>Input: complex, any shape. Output: real, same shape.</remarks>
public sealed class Phase : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the layer.</summary>
    public Phase(string name = "phase") : base(name) { }

    /// <summary>Returns the angle of <paramref name="input"/>.</summary>
    public override Tensor forward(Tensor input) => Functional.phase(input);
}

public static partial class AudioLayers
{
    /// <summary>Magnitude of a complex spectrum.</summary>
    public static Magnitude Magnitude(string name = "magnitude") => new(name);

    /// <summary>Phase of a complex spectrum.</summary>
    public static Phase Phase(string name = "phase") => new(name);
}
