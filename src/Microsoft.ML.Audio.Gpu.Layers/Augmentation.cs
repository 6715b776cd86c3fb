using System.Runtime.CompilerServices;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>Checks and small tensor helpers shared by the waveform augmentation layers (<see cref="BackgroundNoise"/>,
/// <see cref="SpeedPerturbation"/>, <see cref="Reverberation"/>, <see cref="Mixup"/>).</summary>
internal static class Augmentation
{
    /// <summary>A probability in [0, 1].</summary>
    public static double Probability(double value, [CallerArgumentExpression(nameof(value))] string? name = null)
        => Check.Finite(value, name) is >= 0 and <= 1
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1], got: {value}");

    /// <summary><paramref name="low"/> ≤ <paramref name="high"/>, both finite; the message names the lower bound.</summary>
    public static void Range(double low, double high, [CallerArgumentExpression(nameof(low))] string? lowName = null,
        [CallerArgumentExpression(nameof(high))] string? highName = null)
    {
        Check.Finite(low, lowName);
        Check.Finite(high, highName);
        if (low > high)
            throw new ArgumentOutOfRangeException(lowName, low, $"{lowName} must not exceed {highName}, got: {low} > {high}");
    }

    /// <summary>A bank of clips <c>(count, samples)</c>: real floating point, at least one clip of at least one sample.
    /// Returns a copy on the device of its first use that the layer owns (the caller keeps its own tensor).</summary>
    public static Bank CheckBank(Tensor bank, string name)
    {
        if (!bank.is_floating_point() || bank.is_complex())
            throw new ArgumentException($"{name} must be real floating point, got {bank.dtype}", name);
        if (bank.dim() != 2 || bank.shape[0] < 1 || bank.shape[1] < 1)
            throw new ArgumentException($"{name} must be (count, samples) with at least one clip of one sample, got shape [{string.Join(", ", bank.shape)}]", name);
        return new Bank(bank);
    }

    /// <summary>
    /// A bank of clips (noise, impulse responses) kept outside the module's buffers: it is data, not learned state, so
    /// it stays out of the state dict (TorchSharp 0.107 ignores <c>persistent: false</c> when it enumerates buffers,
    /// so a non-persistent buffer would neither move nor be disposed). It is copied once to the device and type of the
    /// input that uses it, and that copy is kept until another device or type asks.
    /// </summary>
    internal sealed class Bank : IDisposable
    {
        private readonly Tensor _source;
        private Tensor? _copy;
        private readonly object _gate = new();

        public Bank(Tensor source)
        {
            _source = source.detach().DetachFromDisposeScope();
        }

        /// <summary>The bank as given (an alias).</summary>
        public Tensor Source => _source;

        public long Count => _source.shape[0];

        public long Samples => _source.shape[1];

        /// <summary>The bank on <paramref name="device"/> in <paramref name="dtype"/>; owned by the bank, not by any
        /// dispose scope: do not dispose it.</summary>
        public Tensor On(Device device, ScalarType dtype)
        {
            lock (_gate)
            {
                if (Devices.SameDevice(_source.device, device) && _source.dtype == dtype) return _source;
                if (_copy is null || !Devices.SameDevice(_copy.device, device) || _copy.dtype != dtype)
                {
                    _copy?.Dispose();
                    _copy = _source.to(dtype, device).DetachFromDisposeScope();
                }
                return _copy;
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _copy?.Dispose();
                _copy = null;
                _source.Dispose();
            }
        }
    }

    /// <summary>Checks a waveform batch <c>(batch, samples)</c> or <c>(batch, channels, samples)</c>, real floating point.</summary>
    public static void CheckBatch(Tensor input, string name)
    {
        ArgumentNullException.ThrowIfNull(input, name);
        if (!input.is_floating_point() || input.is_complex())
            throw new ArgumentException($"{name} must be a real floating-point signal, got {input.dtype}", name);
        if (input.dim() is not (2 or 3))
            throw new ArgumentException($"{name} must be (batch, samples) or (batch, channels, samples), got shape [{string.Join(", ", input.shape)}]", name);
    }

    /// <summary>The forward of a train-time augmentation: the input (an alias) in evaluation mode or at p = 0, else
    /// <paramref name="augment"/>'s output.</summary>
    public static Tensor Forward(Tensor input, bool training, double p, Func<Tensor, Tensor> augment)
    {
        CheckBatch(input, nameof(input));
        if (!training || p == 0) return input.alias();
        using var scope = NewDisposeScope();
        return augment(input).MoveToOuterDisposeScope();
    }

    /// <summary>Shape of one value per example that broadcasts against <paramref name="input"/>: <c>(batch, 1)</c> or
    /// <c>(batch, 1, 1)</c>.</summary>
    public static long[] PerExample(Tensor input) => [input.shape[0], .. Enumerable.Repeat(1L, (int)input.dim() - 1)];

    /// <summary>All dimensions but the batch: what a per-example reduction reduces.</summary>
    public static long[] ExampleDims(Tensor input) => [.. Enumerable.Range(1, (int)input.dim() - 1).Select(i => (long)i)];

    /// <summary>The type the FFT and resampling work in: the input's for float32 and float64, float32 otherwise
    /// (half types have no FFT on every device).</summary>
    public static ScalarType WorkType(Tensor input)
        => input.dtype is ScalarType.Float32 or ScalarType.Float64 ? input.dtype : ScalarType.Float32;

    /// <summary>Uniform values in <c>[low, high]</c> of the given shape, from the global generator of <paramref name="device"/>.</summary>
    public static Tensor Uniform(long[] shape, double low, double high, ScalarType dtype, Device device)
    {
        using var span = (high - low).ToScalar();
        using var offset = low.ToScalar();
        using var scope = NewDisposeScope();
        return rand(shape, dtype: dtype, device: device).mul_(span).add_(offset, HeldScalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>Boolean mask of the examples an augmentation applies to: each with probability <paramref name="p"/>.</summary>
    public static Tensor Applied(long[] shape, double p, Device device)
    {
        using var threshold = p.ToScalar();
        using var u = rand(shape, dtype: ScalarType.Float32, device: device);
        return u.lt(threshold);
    }
}
