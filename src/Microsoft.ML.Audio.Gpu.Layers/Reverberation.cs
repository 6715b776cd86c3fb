using System.Numerics;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Reverberation by a room impulse response while the module is training (torch-audiomentations
/// <c>ApplyImpulseResponse</c>, torchaudio <c>functional.fftconvolve</c>); in evaluation mode it is the identity.
/// </summary>
/// <remarks>
/// <para>Input and output: <c>(batch, samples)</c> or <c>(batch, channels, samples)</c>, real floating point; the shape
/// is kept.</para>
/// <para>Each example is reverberated with probability <see cref="p"/> by one impulse response, shared by its channels:
/// a linear convolution by FFT (<c>torch.fft.rfft</c> and <c>irfft</c> over the next power of two at least
/// <c>samples + ir_samples − 1</c> long, so nothing wraps around), cropped to the input's first <c>samples</c> (the
/// tail that rings on after the end is dropped), then rescaled so that the example's RMS, over its channels and
/// samples, is the input's: the augmentation changes the room, not the level. Silent examples stay silent.</para>
/// <para>The impulse responses come from the bank <see cref="ImpulseResponses"/> <c>(ir_count, ir_samples)</c> when
/// one is given (a random one per example), or are synthetic: a direct path of 1 at <c>t = 0</c>, then Gaussian noise
/// under an exponential decay that falls 60 dB in RT60 seconds, RT60 drawn per example uniformly from
/// <c>[min_rt60, max_rt60]</c> at <see cref="sample_rate"/>, the tail scaled to the direct path's energy (a
/// direct-to-reverberant ratio of 0 dB), <c>⌈max_rt60 · sample_rate⌉</c> samples long.</para>
/// <para>Every draw comes from the global torch generator on the input's device, so <c>torch.random.manual_seed</c>
/// makes it repeatable. The bank is data, not state: it is not a buffer and not in the state dict; it is copied once to
/// the device (and float type) of the inputs and kept there.</para>
/// <example><code>
/// using var reverb = AudioLayers.Reverberation(sample_rate: 16000, p: 0.5); // synthetic rooms, RT60 0.2 to 0.8 s
/// reverb.train();
/// var augmented = reverb.call(batch); // same shape and RMS
/// </code></example>
/// </remarks>
public sealed class Reverberation : nn.Module<Tensor, Tensor>
{
    /// <summary>Sample rate of the input, in Hz: the time base of the synthetic RT60.</summary>
    public readonly long sample_rate;
    /// <summary>Probability that an example is reverberated.</summary>
    public readonly double p;
    /// <summary>Shortest synthetic RT60, in seconds.</summary>
    public readonly double min_rt60;
    /// <summary>Longest synthetic RT60, in seconds.</summary>
    public readonly double max_rt60;

    private readonly Augmentation.Bank? _impulse_responses;

    /// <summary>The impulse-response bank <c>(ir_count, ir_samples)</c> as given (an alias the layer owns), or null for
    /// synthetic ones.</summary>
    public Tensor? ImpulseResponses => _impulse_responses?.Source;

    /// <summary>Samples of a synthetic impulse response: <c>⌈max_rt60 · sample_rate⌉</c>, at least 1.</summary>
    public long SyntheticLength => Math.Max(1, (long)Math.Ceiling(max_rt60 * sample_rate));

    /// <summary>Creates the layer; see <see cref="AudioLayers.Reverberation"/> for the arguments.</summary>
    public Reverberation(string name, Tensor? impulse_responses, long sample_rate, double p, double min_rt60, double max_rt60) : base(name)
    {
        this.sample_rate = Check.Positive(sample_rate);
        this.p = Augmentation.Probability(p);
        Check.Positive(min_rt60);
        Augmentation.Range(min_rt60, max_rt60);
        this.min_rt60 = min_rt60;
        this.max_rt60 = max_rt60;
        if (impulse_responses is not null) _impulse_responses = Augmentation.CheckBank(impulse_responses, nameof(impulse_responses));
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _impulse_responses?.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Reverberates the input while training; returns it unchanged otherwise.</summary>
    /// <param name="input"><c>(batch, samples)</c> or <c>(batch, channels, samples)</c>.</param>
    public override Tensor forward(Tensor input) => Augmentation.Forward(input, training, p, x => Augment(x).output);

    /// <summary>The augmentation with its draws: the output, each example's impulse response <c>(batch, ir_samples)</c>,
    /// its RT60 in seconds <c>(batch)</c> (NaN with a bank) and whether it was reverberated <c>(batch)</c>. For the
    /// tests; <see cref="forward"/> returns only the output.</summary>
    internal (Tensor output, Tensor impulse_response, Tensor rt60, Tensor applied) Augment(Tensor input)
    {
        Augmentation.CheckBatch(input, nameof(input));
        using var scope = NewDisposeScope();
        var device = input.device;
        var work = Augmentation.WorkType(input);
        long batch = input.shape[0], samples = input.shape[^1];
        var dims = Augmentation.ExampleDims(input);

        var applied = Augmentation.Applied([batch], p, device);
        Tensor ir, rt60;
        if (_impulse_responses is null)
            (ir, rt60) = Synthetic(batch, work, device);
        else
        {
            var bank = _impulse_responses.On(device, work);
            var index = randint(bank.shape[0], [batch], dtype: ScalarType.Int64, device: device);
            ir = bank.index_select(0, index);
            using var nan = double.NaN.ToScalar();
            rt60 = full([batch], nan, dtype: work, device: device);
        }

        // Linear convolution: an FFT at least samples + ir_samples − 1 long has room for the whole result.
        long irSamples = ir.shape[1];
        long n = (long)BitOperations.RoundUpToPowerOf2((ulong)(samples + irSamples - 1));
        var x = input.to(work);
        var h = input.dim() == 3 ? ir.unsqueeze(1) : ir;
        var wet = fft.irfft(fft.rfft(x, n: n, dim: -1).mul_(fft.rfft(h, n: n, dim: -1)), n: n, dim: -1).narrow(-1, 0, samples);

        // Back to the input's RMS; a silent result (a silent input) gets gain 0.
        using var zero = 0.ToScalar();
        var dryPower = x.pow(HeldScalars.Two).mean(dims, keepdim: true);
        var wetPower = wet.pow(HeldScalars.Two).mean(dims, keepdim: true);
        var gain = dryPower.div(wetPower).masked_fill(wetPower.eq(zero), zero).sqrt_();
        var mask = applied.reshape(Augmentation.PerExample(input));
        var output = where(mask, wet.mul(gain), x).to(input.dtype);
        return (output.MoveToOuterDisposeScope(), ir.MoveToOuterDisposeScope(), rt60.MoveToOuterDisposeScope(), applied.MoveToOuterDisposeScope());
    }

    /// <summary>Synthetic impulse responses <c>(batch, SyntheticLength)</c> and their RT60s <c>(batch)</c>.</summary>
    private (Tensor ir, Tensor rt60) Synthetic(long batch, ScalarType work, Device device)
    {
        using var scope = NewDisposeScope();
        long length = SyntheticLength;
        var rt60 = Augmentation.Uniform([batch], min_rt60, max_rt60, work, device);
        // Amplitude exp(−t · 3 ln 10 / (RT60 · rate)): 10^−3, −60 dB of energy, after RT60 seconds.
        using var start = 0.ToScalar();
        using var stop = length.ToScalar();
        using var step = 1.ToScalar();
        using var decayScale = (-3 * Math.Log(10) / sample_rate).ToScalar();
        var t = arange(start, stop, step, dtype: work, device: device).unsqueeze(0);                 // (1, length)
        var envelope = t.mul(rt60.reciprocal().mul_(decayScale).unsqueeze(1)).exp_();                 // (batch, length)
        var ir = randn([batch, length], dtype: work, device: device).mul_(envelope);
        // The tail (t ≥ 1) scaled to unit energy, then the direct path of 1 at t = 0.
        var first = zeros([1], dtype: ScalarType.Int64, device: device);
        ir.index_fill_(1, first, start);
        var tailEnergy = ir.pow(HeldScalars.Two).sum([1], keepdim: true);
        ir = ir.div_(tailEnergy.masked_fill_(tailEnergy.eq(start), HeldScalars.One).sqrt_());
        ir.index_fill_(1, first, HeldScalars.One);
        return (ir.MoveToOuterDisposeScope(), rt60.MoveToOuterDisposeScope());
    }
}

public static partial class AudioLayers
{
    /// <summary>Room-reverberation augmentation by FFT convolution with an impulse response, active only in training mode;
    /// the output keeps each example's RMS.</summary>
    /// <param name="sample_rate">Sample rate of the input in Hz, for the synthetic RT60. Default 16000.</param>
    /// <param name="p">Probability that an example is reverberated, in [0, 1]. Default 0.5 (torch-audiomentations).</param>
    /// <param name="min_rt60">Shortest synthetic RT60 in seconds, positive. Default 0.2.</param>
    /// <param name="max_rt60">Longest synthetic RT60 in seconds, at least <paramref name="min_rt60"/>. Default 0.8.</param>
    /// <param name="impulse_responses">Impulse-response bank <c>(ir_count, ir_samples)</c>, real floating point, on any
    /// device (it is moved to the input's), direct path first; null for synthetic ones. The layer keeps an alias of it.</param>
    /// <param name="name">Module name.</param>
    public static Reverberation Reverberation(long sample_rate = 16000, double p = 0.5, double min_rt60 = 0.2, double max_rt60 = 0.8,
        Tensor? impulse_responses = null, string name = "reverberation")
        => new(name, impulse_responses, sample_rate, p, min_rt60, max_rt60);
}
