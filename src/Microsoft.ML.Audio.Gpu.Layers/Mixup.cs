namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Mixup (Zhang, Cisse, Dauphin and Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR 2018) while the module
/// is training: each example is mixed with another of the same batch, <c>λ · x_i + (1 − λ) · x_j</c>, and its label with
/// that example's label in the same proportion. In evaluation mode the input passes through and the labels only become
/// one-hot targets.
/// </summary>
/// <remarks>
/// <para>Because the labels must be mixed too, this module takes them: <c>call(input, labels, classes)</c> returns
/// <c>(mixed input, soft targets)</c>.</para>
/// <para>Input: <c>(batch, ...)</c>, real floating point, at least 2-D: waveforms <c>(batch, samples)</c> or
/// <c>(batch, channels, samples)</c>, or features. Labels: class indices <c>(batch)</c> of an integer type, or one-hot
/// or soft targets <c>(batch, classes)</c> of a floating type. Output: the input's shape and type, and targets
/// <c>(batch, classes)</c> (float32, or float64 for a float64 input) whose rows sum to 1.</para>
/// <para>The partner of example <c>i</c> is <c>j = permutation[i]</c>, a random permutation of the batch (an example may
/// meet itself); <c>λ ~ Beta(alpha, alpha)</c> is drawn per example, from two Gamma(alpha) draws
/// (<c>λ = g₁ / (g₁ + g₂)</c>, each clamped away from 0 so that λ is never NaN). Zhang et al.'s code draws one λ per
/// batch; one per example mixes the batch more evenly. Every draw comes from the global torch generator on the
/// input's device, so <c>torch.random.manual_seed</c> makes it repeatable.</para>
/// <para>A trainer uses the soft targets with the cross-entropy on probabilities, which libtorch's
/// <c>cross_entropy</c> computes when the target is floating point and shaped as the logits:
/// <c>−Σ_c t_c · log softmax(z)_c</c>, averaged over the batch. For mixed targets that is exactly
/// <c>λ · CE(z, y_i) + (1 − λ) · CE(z, y_j)</c>, the loss of the paper.</para>
/// <example><code>
/// using var mixup = AudioLayers.Mixup(alpha: 0.2);
/// mixup.train();
/// var (x, targets) = mixup.call(batch, labels, classes);    // labels: (batch) int64 class indices
/// var loss = nn.functional.cross_entropy(model.call(x), targets); // soft targets (batch, classes)
/// </code></example>
/// </remarks>
public sealed class Mixup : nn.Module<Tensor, Tensor, long, (Tensor input, Tensor targets)>
{
    /// <summary>Both shape parameters of the Beta distribution of λ.</summary>
    public readonly double alpha;

    /// <summary>Smallest Gamma draw kept: a float32 Gamma(alpha) for a small alpha can underflow to 0, and two zeros
    /// would make λ = 0 / 0.</summary>
    private static readonly Scalar GammaFloor = 1e-30.ToScalar();

    /// <summary>Creates the layer; see <see cref="AudioLayers.Mixup"/> for the arguments.</summary>
    public Mixup(string name, double alpha) : base(name)
    {
        this.alpha = Check.Positive(alpha);
    }

    /// <summary>Mixes the examples and their labels while training; otherwise returns the input and the labels as
    /// one-hot (or the given soft) targets.</summary>
    /// <param name="input"><c>(batch, ...)</c>, real floating point.</param>
    /// <param name="labels">Class indices <c>(batch)</c>, integer; or targets <c>(batch, classes)</c>, floating point.</param>
    /// <param name="classes">Number of classes, positive; the labels' second dimension when they are targets.</param>
    /// <returns>The mixed input (the input's shape and type) and the soft targets <c>(batch, classes)</c>.</returns>
    public override (Tensor input, Tensor targets) forward(Tensor input, Tensor labels, long classes)
    {
        if (!training)
        {
            CheckArguments(input, labels, classes);
            return (input.alias(), Targets(input, labels, classes));
        }
        var (mixed, targets, _, _) = Augment(input, labels, classes);
        return (mixed, targets);
    }

    /// <summary>The mixup with its draws: mixed input, soft targets, λ <c>(batch)</c> in the input's type and the
    /// permutation <c>(batch)</c>. For the tests; <see cref="forward"/> returns the first two.</summary>
    internal (Tensor input, Tensor targets, Tensor lambda, Tensor permutation) Augment(Tensor input, Tensor labels, long classes)
    {
        CheckArguments(input, labels, classes);
        using var scope = NewDisposeScope();
        var device = input.device;
        long batch = input.shape[0];

        using var a = alpha.ToScalar();
        var gammas = _standard_gamma(full([2, batch], a, dtype: ScalarType.Float32, device: device)).clamp_min_(GammaFloor);
        var lambda32 = gammas.select(0, 0).div(gammas.sum([0]));
        var permutation = randperm(batch, dtype: ScalarType.Int64, device: device);

        var lambda = lambda32.to(input.dtype);
        var mixed = Mix(input, lambda, permutation);
        var targets = Targets(input, labels, classes);
        var mixedTargets = Mix(targets, lambda32.to(targets.dtype), permutation);
        return (mixed.MoveToOuterDisposeScope(), mixedTargets.MoveToOuterDisposeScope(), lambda.MoveToOuterDisposeScope(),
            permutation.MoveToOuterDisposeScope());
    }

    /// <summary><c>λ · x + (1 − λ) · x[permutation]</c>, λ per example, in <paramref name="x"/>'s type.</summary>
    private static Tensor Mix(Tensor x, Tensor lambda, Tensor permutation)
    {
        using var scope = NewDisposeScope();
        long[] shape = [x.shape[0], .. Enumerable.Repeat(1L, (int)x.dim() - 1)];
        var l = lambda.reshape(shape);
        var rest = l.neg().add_(HeldScalars.One, HeldScalars.One);                                  // 1 − λ
        return x.mul(l).add(x.index_select(0, permutation).mul(rest), HeldScalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>The labels as targets <c>(batch, classes)</c>: one-hot for class indices, a copy for targets.</summary>
    private static Tensor Targets(Tensor input, Tensor labels, long classes)
    {
        var type = Augmentation.WorkType(input);
        if (labels.is_floating_point()) return labels.to(type, copy: true);
        using var indices = labels.to(ScalarType.Int64);
        using var oneHot = nn.functional.one_hot(indices, classes);
        return oneHot.to(type);
    }

    private static void CheckArguments(Tensor input, Tensor labels, long classes)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(labels);
        Check.Positive(classes);
        if (!input.is_floating_point() || input.is_complex())
            throw new ArgumentException($"input must be real floating point, got {input.dtype}", nameof(input));
        if (input.dim() < 2)
            throw new ArgumentException($"input must be (batch, ...) with at least 2 dimensions, got shape [{string.Join(", ", input.shape)}]", nameof(input));
        long batch = input.shape[0];
        bool indices = labels.dim() == 1 && labels.dtype is ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte;
        bool targets = labels.dim() == 2 && labels.is_floating_point() && !labels.is_complex() && labels.shape[1] == classes;
        if (!(indices || targets) || labels.shape[0] != batch)
            throw new ArgumentException($"labels must be class indices (batch) of an integer type or targets (batch, classes) of a floating type, " +
                $"with batch {batch} and classes {classes}; got {labels.dtype} of shape [{string.Join(", ", labels.shape)}]", nameof(labels));
    }
}

public static partial class AudioLayers
{
    /// <summary>Mixup of examples and labels within the batch (Zhang et al. 2018), active only in training mode; call it as
    /// <c>mixup.call(input, labels, classes)</c> and train on the soft targets with <c>cross_entropy</c>.</summary>
    /// <param name="alpha">Shape of the Beta(alpha, alpha) distribution of λ, positive: small values keep most mixes
    /// close to one example. Default 0.2 (Zhang et al.'s ImageNet setting).</param>
    /// <param name="name">Module name.</param>
    public static Mixup Mixup(double alpha = 0.2, string name = "mixup") => new(name, alpha);
}
