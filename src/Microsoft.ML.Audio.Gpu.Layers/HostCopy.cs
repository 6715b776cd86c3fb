namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// A tensor's values on the host, made inside a dispose scope: in <c>t.detach().cpu().contiguous()</c> nothing
/// references the intermediate tensors while libtorch reads them, so outside a scope a garbage collection can delete one
/// under it (a segmentation fault; see the tests' TensorTemporaryAnalyzer).
/// </summary>
internal static class HostCopy
{
    /// <summary>A detached, contiguous CPU tensor with <paramref name="t"/>'s values (a view of them when they already
    /// are), converted to <paramref name="dtype"/> when given.</summary>
    public static Tensor Of(Tensor t, ScalarType? dtype = null)
    {
        using var scope = NewDisposeScope();
        var x = t.detach().cpu();
        if (dtype is ScalarType type && x.dtype != type) x = x.to(type);
        return x.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>A detached CPU copy of <paramref name="t"/> that shares no memory with it.</summary>
    public static Tensor Clone(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().cpu().clone().MoveToOuterDisposeScope();
    }
}
