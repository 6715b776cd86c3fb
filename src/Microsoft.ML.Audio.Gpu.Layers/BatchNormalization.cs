using TorchSharp.Modules;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Batch normalisation over the channel axis (torch.nn.BatchNorm1d/2d/3d in one layer), for networks trained with
/// these layers. It replaces TorchSharp's <c>BatchNorm2d</c>, whose training step increments its batch counter with a
/// temporary Scalar that a garbage collection can free while libtorch reads it.
/// </summary>
/// <remarks>
/// <para>Input: <c>(batch, channels, ...)</c>; output: the same shape.</para>
/// <para>Parameters and buffers carry TorchSharp's (and PyTorch's) names, <c>weight</c>, <c>bias</c>,
/// <c>running_mean</c>, <c>running_var</c> and <c>num_batches_tracked</c>, in that order, so a saved state
/// dictionary reads back into either. The numbers are TorchSharp's: the same <c>batch_norm</c> call with the same
/// arguments (running statistics updated with <c>momentum</c>, biased variance to normalise, unbiased to track).</para>
/// </remarks>
public sealed class BatchNormalization : nn.Module<Tensor, Tensor>
{
    /// <summary>Channels (<c>C</c> of <c>(N, C, ...)</c>).</summary>
    public readonly long num_features;
    /// <summary>Added to the variance before the square root.</summary>
    public readonly double eps;
    /// <summary>Weight of the newest batch in the running statistics.</summary>
    public readonly double momentum;

    // Named as their parameters and buffers: Module.to() replaces registered tensors and updates the field of the same name.
    private Parameter weight;
    private Parameter bias;
    private Tensor running_mean;
    private Tensor running_var;
    private Tensor num_batches_tracked;

    /// <summary>Creates the layer: weight 1, bias 0, running mean 0 and variance 1.</summary>
    public BatchNormalization(string name, long num_features, double eps = 1e-5, double momentum = 0.1) : base(name)
    {
        this.num_features = Check.Positive(num_features);
        this.eps = Check.Positive(eps);
        if (!(momentum >= 0 && momentum <= 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"momentum must be in [0, 1], got: {momentum}");
        this.momentum = momentum;
        weight = new Parameter(ones(num_features));
        bias = new Parameter(zeros(num_features));
        running_mean = zeros(num_features);
        running_var = ones(num_features);
        num_batches_tracked = tensor(0L);
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
        register_buffer(nameof(num_batches_tracked), num_batches_tracked);
    }

    /// <summary>Normalises with the batch's statistics in training mode (updating the running ones), with the running
    /// statistics in evaluation mode.</summary>
    /// <param name="input"><c>(batch, num_features, ...)</c>.</param>
    /// <returns>The same shape.</returns>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() < 2 || input.shape[1] != num_features)
            throw new ArgumentException($"input must be (batch, {num_features}, ...), got [{string.Join(", ", input.shape)}]", nameof(input));
        if (training)
        {
            using var _ = no_grad();
            num_batches_tracked.add_(HeldScalars.One, HeldScalars.One);
        }
        return nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps);
    }
}

public static partial class AudioLayers
{
    /// <summary>Batch normalisation over the channel axis of <c>(batch, channels, ...)</c> (torch.nn.BatchNorm2d's
    /// numbers and state names), safe from TorchSharp's temporary-Scalar crash.</summary>
    /// <param name="num_features">Channels.</param>
    /// <param name="eps">Added to the variance. Default 1e-5 (PyTorch).</param>
    /// <param name="momentum">Running-statistics momentum. Default 0.1 (PyTorch).</param>
    /// <param name="name">Module name.</param>
    public static BatchNormalization BatchNorm(long num_features, double eps = 1e-5, double momentum = 0.1, string name = "batch_norm")
        => new(name, num_features, eps, momentum);
}
