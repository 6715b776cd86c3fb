using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// TorchSharp's own <c>BatchNorm2d</c> and <c>AdamW</c>, the references that the project's replacements must equal.
/// Both make temporary Scalars that a garbage collection can free mid-call, so every call into them here runs inside
/// a no-GC region; ScalarLifetimeTests exempts this class from its check for that reason.
/// </summary>
public static class TorchSharpReference
{
    public static nn.Module<Tensor, Tensor> BatchNorm2d(long features) => nn.BatchNorm2d(features);

    public static optim.Optimizer AdamW(IEnumerable<TorchSharp.Modules.Parameter> parameters, double lr, double weightDecay, bool amsgrad, bool maximize)
        => optim.AdamW(parameters, lr: lr, weight_decay: weightDecay, amsgrad: amsgrad, maximize: maximize);

    /// <summary>Runs <paramref name="action"/> with garbage collection held off (no finalizer can run during it).</summary>
    public static T WithoutCollections<T>(Func<T> action)
    {
        bool region = GC.TryStartNoGCRegion(64L << 20);
        Assert.IsTrue(region, "could not hold off garbage collection");
        try
        {
            return action();
        }
        finally
        {
            if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
            else Assert.Fail("a garbage collection happened inside the no-GC region; the reference call was not protected");
        }
    }
}
