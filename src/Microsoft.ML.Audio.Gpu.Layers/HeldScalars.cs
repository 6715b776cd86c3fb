namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Scalars that live as long as the process, for the constants the layers pass to libtorch.
/// </summary>
/// <remarks>
/// TorchSharp passes a Scalar's native pointer and keeps no reference to the managed object, whose finalizer frees
/// the pointer: a garbage collection during the native call frees an implicitly converted Scalar while libtorch
/// reads it. Constants therefore live in static fields, and values computed at run time in <c>using var</c> locals.
/// TorchSharp's one-argument <c>add</c>, <c>add_</c> and <c>square</c> make such a temporary themselves (a hidden
/// <c>alpha = 1</c>, <c>pow(2)</c>): call <c>add(x, One)</c> and <c>pow(Two)</c> instead.
/// The test suite checks every call of the built assemblies for this (ScalarLifetimeTests).
/// </remarks>
internal static class HeldScalars
{
    /// <summary>1, integral so that it is also a valid <c>alpha</c> for integer tensors.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>2, the exponent of a square (what TorchSharp's <c>square()</c> passes).</summary>
    public static readonly Scalar Two = 2.ToScalar();
}
