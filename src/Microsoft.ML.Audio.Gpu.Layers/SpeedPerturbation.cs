using System.Numerics;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Speed perturbation (Ko et al., 2015; Kaldi's <c>perturb_data_dir_speed.sh</c>, torchaudio <c>SpeedPerturbation</c>)
/// while the module is training: the batch is played <c>factor</c> times faster, which changes its tempo and pitch
/// together, then cropped or zero-padded back to its length. In evaluation mode it is the identity.
/// </summary>
/// <remarks>
/// <para>Input and output: <c>(batch, samples)</c> or <c>(batch, channels, samples)</c>, real floating point; the shape
/// is kept.</para>
/// <para>Convention (Kaldi's and torchaudio's): a factor of 1.1 makes the clip 1/1.1 as long and raises every frequency
/// by 1.1 (a 1 kHz tone comes out at 1.1 kHz). The signal is resampled from <c>factor · r</c> to <c>r</c> Hz with the
/// project's band-limited sinc resampler (<see cref="Layers.Resample"/>, which low-passes at the lower rate, so a
/// speed-up does not alias), then centred: a shorter result is zero-padded equally on both sides (the odd sample at
/// the end), a longer one cropped to its middle.</para>
/// <para>One factor is drawn per batch, uniformly from <see cref="factors"/>, by the global torch generator of the CPU
/// (<c>torch.random.manual_seed</c> repeats it; reading it does not wait for the device); a factor of 1 returns the
/// input unchanged. Factors
/// are rounded to a multiple of 0.001 (the resampling ratio is <c>round(1000 · factor) / 1000</c>, reduced); each
/// other factor holds one resampling kernel, built at construction and moved by <c>module.to(device)</c>.</para>
/// <example><code>
/// using var speed = AudioLayers.SpeedPerturbation(); // 0.9, 1.0 or 1.1
/// speed.train();
/// var augmented = speed.call(batch); // same shape
/// </code></example>
/// </remarks>
public sealed class SpeedPerturbation : nn.Module<Tensor, Tensor>
{
    /// <summary>Resolution of the factors: they are rounded to multiples of <c>1 / FactorDenominator</c>.</summary>
    public const long FactorDenominator = 1000;

    /// <summary>The speed factors drawn from, as given.</summary>
    public IReadOnlyList<double> factors => _factors;

    private readonly double[] _factors;
    // One resampler per factor; null where the factor rounds to 1.
    private readonly Resample?[] _resamplers;

    /// <summary>Creates the layer; see <see cref="AudioLayers.SpeedPerturbation"/> for the arguments.</summary>
    public SpeedPerturbation(string name, double[] factors, long lowpass_filter_width, double rolloff) : base(name)
    {
        ArgumentNullException.ThrowIfNull(factors);
        if (factors.Length == 0)
            throw new ArgumentException("factors must hold at least one speed factor", nameof(factors));
        _factors = [.. factors];
        _resamplers = new Resample?[factors.Length];
        for (int i = 0; i < factors.Length; i++)
        {
            double factor = factors[i];
            if (!(double.IsFinite(factor) && Math.Round(factor * FactorDenominator) >= 1))
                throw new ArgumentOutOfRangeException(nameof(factors), factor, $"factors must be finite and at least {1.0 / FactorDenominator}, got: {factor}");
            var (orig, target) = Ratio(factor);
            if (orig == target) continue;
            _resamplers[i] = AudioLayers.Resample(orig, target, lowpass_filter_width, rolloff, name: $"resample{i}");
            register_module($"resample{i}", _resamplers[i]!);
        }
    }

    /// <summary>The resampling <c>(orig_freq, new_freq)</c> of a factor: <c>round(1000 · factor) → 1000</c>, divided by
    /// their greatest common divisor.</summary>
    internal static (long orig, long target) Ratio(double factor)
    {
        long orig = (long)Math.Round(factor * FactorDenominator);
        long g = (long)BigInteger.GreatestCommonDivisor(orig, FactorDenominator);
        return (orig / g, FactorDenominator / g);
    }

    /// <summary>Changes the speed while training; returns the input unchanged otherwise.</summary>
    /// <param name="input"><c>(batch, samples)</c> or <c>(batch, channels, samples)</c>.</param>
    public override Tensor forward(Tensor input)
    {
        Augmentation.CheckBatch(input, nameof(input));
        if (!training) return input.alias();
        return Augment(input).output;
    }

    /// <summary>The augmentation and the factor drawn. For the tests; <see cref="forward"/> returns only the output.</summary>
    internal (Tensor output, double factor) Augment(Tensor input)
    {
        Augmentation.CheckBatch(input, nameof(input));
        int index;
        // The factor decides the resampler and the shapes, so the host needs it: drawn from the CPU generator, reading
        // it waits for nothing on the input's device.
        using (var draw = randint(_factors.Length, [1], dtype: ScalarType.Int64))
            index = (int)draw.item<long>();
        var resampler = _resamplers[index];
        if (resampler is null) return (input.alias(), _factors[index]);

        using var scope = NewDisposeScope();
        long length = input.shape[^1];
        var x = input.dtype == Augmentation.WorkType(input) ? input : input.to(Augmentation.WorkType(input));
        var y = resampler.call(x);
        long resampled = y.shape[^1];
        if (resampled > length)
            y = y.narrow(-1, (resampled - length) / 2, length);
        else if (resampled < length)
        {
            long before = (length - resampled) / 2;
            y = nn.functional.pad(y, [before, length - resampled - before]);
        }
        return (y.to(input.dtype).MoveToOuterDisposeScope(), _factors[index]);
    }
}

public static partial class AudioLayers
{
    /// <summary>Speed perturbation (tempo and pitch together, Kaldi's convention), active only in training mode.</summary>
    /// <param name="factors">Speed factors, one drawn per batch; each finite and at least 0.001, rounded to a multiple
    /// of 0.001. Default 0.9, 1.0, 1.1 (Kaldi, torchaudio's recipes).</param>
    /// <param name="lowpass_filter_width">Zero crossings of the resampler's sinc on each side. Default 6 (torchaudio).</param>
    /// <param name="rolloff">Resampler cutoff as a fraction of the lower Nyquist frequency, in (0, 1]. Default 0.99 (torchaudio).</param>
    /// <param name="name">Module name.</param>
    public static SpeedPerturbation SpeedPerturbation(double[]? factors = null, long lowpass_filter_width = Functional.ResampleLowpassFilterWidth,
        double rolloff = Functional.ResampleRolloff, string name = "speed_perturbation")
        => new(name, factors ?? [0.9, 1.0, 1.1], lowpass_filter_width, rolloff);
}
