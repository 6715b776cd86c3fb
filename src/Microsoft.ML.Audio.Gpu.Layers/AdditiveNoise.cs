namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Adds white Gaussian noise while the module is training (Kapre 2017 <c>AdditiveNoise</c>, Keras
/// <c>GaussianNoise</c>); in evaluation mode it is the identity.
/// </summary>
/// <remarks>
/// <para>Input and output: any shape; the first dimension is the batch when there are 2 or more.</para>
/// <para>The noise has standard deviation <see cref="power"/> (Kapre: "std if it's white noise"). With
/// <see cref="random_gain"/>, each example draws its own deviation uniformly from <c>[0, power)</c>; Kapre draws one
/// per batch. Noise comes from the global torch generator on the input's device, so <c>torch.random.manual_seed</c>
/// makes it repeatable.</para>
/// </remarks>
public sealed class AdditiveNoise : nn.Module<Tensor, Tensor>
{
    /// <summary>Standard deviation of the noise (its largest value with <see cref="random_gain"/>).</summary>
    public readonly double power;
    /// <summary>Draw each example's deviation uniformly from <c>[0, power)</c>.</summary>
    public readonly bool random_gain;

    /// <summary>Creates the layer; see <see cref="AudioLayers.AdditiveNoise"/> for the arguments.</summary>
    public AdditiveNoise(string name, double power, bool random_gain) : base(name)
    {
        this.power = Check.NonNegative(power);
        this.random_gain = random_gain;
    }

    /// <summary>Adds noise while training; returns the input unchanged otherwise.</summary>
    /// <param name="input">Any floating-point tensor.</param>
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!training || power == 0) return input.alias();
        if (!input.is_floating_point())
            throw new ArgumentException($"input must be floating point, got {input.dtype}", nameof(input));
        using var scope = NewDisposeScope();
        using var std = power.ToScalar();
        var noise = randn_like(input).mul_(std);
        if (random_gain)
        {
            long[] gainShape = input.dim() >= 2 ? [input.shape[0], .. Enumerable.Repeat(1L, (int)input.dim() - 1)] : [1];
            noise = noise.mul_(rand(gainShape, dtype: input.dtype, device: input.device));
        }
        return input.add(noise, HeldScalars.One).MoveToOuterDisposeScope();
    }
}

public static partial class AudioLayers
{
    /// <summary>White-noise augmentation, active only in training mode.</summary>
    /// <param name="power">Standard deviation of the noise, at least 0. Default 0.1 (Kapre).</param>
    /// <param name="random_gain">Draw each example's deviation from <c>[0, power)</c>. Default false (Kapre).</param>
    /// <param name="name">Module name.</param>
    public static AdditiveNoise AdditiveNoise(double power = 0.1, bool random_gain = false, string name = "noise") => new(name, power, random_gain);
}
