namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Where a TorchSharp object is made in one dispose scope and lives on past it. Every tensor this library makes while
/// training or scoring belongs to a dispose scope that outlives the native calls reading it (a scope per step, per
/// batch, per prediction), or to an owner that disposes it: a module's parameters and buffers belong to the module.
/// Nothing is left to a finalizer, which would free it on its own thread, possibly while libtorch still reads it.
/// </summary>
/// <remarks>
/// Tensors returned out of a scope use TorchSharp's <c>MoveToOuterDisposeScope</c>. The test suite checks the built
/// assemblies for tensors outside any scope or owner (TensorTemporaryAnalyzer) and runs the trainer under forced
/// collections counting what the finalizer frees (TrainerStressTests).
/// </remarks>
internal static class Lifetimes
{
    /// <summary>
    /// A TorchSharp layer made inside a dispose scope of its own. TorchSharp's constructors can make tensors they do not
    /// keep: <c>Conv2d</c> (with a bias) and <c>Linear</c> compute the bias's bound from the size of <c>weight[0, 0]</c>
    /// and drop that view, which outside a scope goes to the finalizer (19 of them per speech embedding; a collection
    /// can free one while libtorch reads its size). Made here, such tensors are freed with this scope; the layer's
    /// parameters and buffers leave the scope with the layer, whose they are.
    /// </summary>
    public static T Layer<T>(Func<T> make) where T : nn.Module
    {
        using var scope = NewDisposeScope();
        var layer = make();
        foreach (var p in layer.parameters()) p.DetachFromDisposeScope();
        foreach (var b in layer.buffers()) b.DetachFromDisposeScope();
        return layer;
    }
}
