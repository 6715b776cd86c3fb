using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>
/// The backward pass of a training step, guarded against a non-finite loss or gradient, so that no NaN reaches the
/// weights through the optimizer.
/// </summary>
/// <remarks>
/// <para>libtorch's oneDNN has given a NaN input gradient in a small fraction of the backward passes of a small Conv2d
/// on some CPUs (about 1 in 5,000 at its AVX2 kernels on an AMD EPYC, docs/reliability.md): a fault of that pass, not of
/// the data. The backward is therefore run on a graph kept for a second pass; when the loss or a gradient is not
/// finite, the gradients are cleared and the backward runs once more on the same graph (the same forward values and
/// random draws), which gives what a clean pass gives: the run goes on as if nothing had happened. When the second
/// pass fails too (a non-finite loss, an overflow), the step is skipped, as mixed-precision trainers skip a step whose
/// gradients overflowed. Both are counted and logged.</para>
/// <para>The check is one sum over the loss and every gradient in float64 (NaN and infinities propagate through it) and
/// one read of its finiteness per step. The graph kept for the second pass holds the forward's saved tensors until the
/// step's scope ends, where a backward that does not keep it frees them as it goes: a step's peak memory is that of
/// its forward plus the gradients.</para>
/// </remarks>
internal sealed class GuardedStep(Action<long, int, IEnumerable<Parameter>>? afterBackward = null)
{
    private long _step;

    /// <summary>Steps whose first backward pass gave a non-finite gradient and whose second gave finite ones.</summary>
    public int Retried { get; private set; }

    /// <summary>Steps not taken: the loss, or the gradients of both passes, were not finite.</summary>
    public int Skipped { get; private set; }

    /// <summary>Back-propagates <paramref name="loss"/> into the gradients of <paramref name="optimizer"/>'s parameters
    /// (zeroed by the caller); returns whether the optimizer may step.</summary>
    public bool Backward(Tensor loss, optim.Optimizer optimizer)
    {
        long step = _step++;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (attempt > 0) optimizer.zero_grad();
            loss.backward(retain_graph: attempt == 0);
            afterBackward?.Invoke(step, attempt, optimizer.parameters());
            if (IsFinite(loss, optimizer))
            {
                if (attempt > 0) Retried++;
                return true;
            }
        }
        Skipped++;
        return false;
    }

    /// <summary>What the guard did since the counts were <paramref name="retried"/> and <paramref name="skipped"/>, for
    /// the log; empty when it did nothing.</summary>
    public string Describe(int retried, int skipped)
    {
        int r = Retried - retried, s = Skipped - skipped;
        if (r == 0 && s == 0) return "";
        return $", {r} step(s) with a non-finite gradient recomputed, {s} skipped";
    }

    private static bool IsFinite(Tensor loss, optim.Optimizer optimizer)
    {
        using var scope = NewDisposeScope();
        var total = loss.detach().to(ScalarType.Float64);
        foreach (var p in optimizer.parameters())
            if (p.grad is Tensor grad) total = total.add(grad.sum(ScalarType.Float64), HeldScalars.One);
        return total.isfinite().item<bool>();
    }
}
