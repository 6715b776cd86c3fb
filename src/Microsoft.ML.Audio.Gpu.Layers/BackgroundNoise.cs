namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Mixes background noise into each example at a random signal-to-noise ratio while the module is training
/// (torch-audiomentations <c>AddBackgroundNoise</c> and <c>AddColoredNoise</c>, audiomentations <c>AddBackgroundNoise</c>);
/// in evaluation mode it is the identity.
/// </summary>
/// <remarks>
/// <para>Input and output: <c>(batch, samples)</c> or <c>(batch, channels, samples)</c>, real floating point.</para>
/// <para>Each example is mixed with probability <see cref="p"/>, at an SNR drawn uniformly from
/// <c>[min_snr_db, max_snr_db]</c> dB. The SNR is the ratio of the example's mean power (over its channels and samples)
/// to that of the added noise, so the noise is scaled by <c>sqrt(P_signal / (P_noise · 10^(snr / 10)))</c>. A silent
/// example gets no noise (it stays silent), and a silent noise clip adds nothing: no NaN either way. One noise signal
/// is drawn per example and shared by its channels.</para>
/// <para>The noise comes from the bank <see cref="Noise"/> <c>(noise_count, noise_samples)</c> when one is given: a
/// random clip per example, starting at a random offset and looped when shorter than the input (a longer clip starts
/// where a whole excerpt fits). Without a bank, coloured noise is generated on the device: white Gaussian noise whose
/// spectrum is shaped by <c>f^(−noise_exponent / 2)</c> (its power falls as <c>f^−noise_exponent</c>: 0 white, 1 pink
/// −10 dB/decade, 2 brown −20 dB/decade; the DC bin is removed), as torch-audiomentations' <c>AddColoredNoise</c>.</para>
/// <para>Every draw comes from the global torch generator on the input's device, so <c>torch.random.manual_seed</c>
/// makes it repeatable. The bank is data, not state: it is not a buffer and not in the state dict; it is copied once to
/// the device (and float type) of the inputs and kept there.</para>
/// <example><code>
/// using var noise = AudioLayers.BackgroundNoise(min_snr_db: 5, max_snr_db: 20, p: 0.8, noise_exponent: 1); // pink
/// noise.train();
/// var augmented = noise.call(batch); // (batch, samples), same shape
/// </code></example>
/// </remarks>
public sealed class BackgroundNoise : nn.Module<Tensor, Tensor>
{
    /// <summary>Lowest SNR drawn, in dB.</summary>
    public readonly double min_snr_db;
    /// <summary>Highest SNR drawn, in dB.</summary>
    public readonly double max_snr_db;
    /// <summary>Probability that an example gets noise.</summary>
    public readonly double p;
    /// <summary>Exponent of the generated noise's power spectrum <c>f^−noise_exponent</c> (unused with a bank).</summary>
    public readonly double noise_exponent;

    private readonly Augmentation.Bank? _noise;

    /// <summary>The noise bank <c>(noise_count, noise_samples)</c> as given (an alias the layer owns), or null for
    /// generated noise.</summary>
    public Tensor? Noise => _noise?.Source;

    /// <summary>Creates the layer; see <see cref="AudioLayers.BackgroundNoise"/> for the arguments.</summary>
    public BackgroundNoise(string name, Tensor? noise, double min_snr_db, double max_snr_db, double p, double noise_exponent) : base(name)
    {
        Augmentation.Range(min_snr_db, max_snr_db);
        this.min_snr_db = min_snr_db;
        this.max_snr_db = max_snr_db;
        this.p = Augmentation.Probability(p);
        this.noise_exponent = Check.Finite(noise_exponent);
        if (noise is not null) _noise = Augmentation.CheckBank(noise, nameof(noise));
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _noise?.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Mixes noise into the input while training; returns it unchanged otherwise.</summary>
    /// <param name="input"><c>(batch, samples)</c> or <c>(batch, channels, samples)</c>.</param>
    public override Tensor forward(Tensor input) => Augmentation.Forward(input, training, p, x => Augment(x).output);

    /// <summary>The augmentation with its draws: the output, each example's SNR in dB <c>(batch)</c> and whether it got
    /// noise <c>(batch)</c>. For the tests; <see cref="forward"/> returns only the output.</summary>
    internal (Tensor output, Tensor snr_db, Tensor applied) Augment(Tensor input)
    {
        Augmentation.CheckBatch(input, nameof(input));
        using var scope = NewDisposeScope();
        var device = input.device;
        var work = Augmentation.WorkType(input);
        long batch = input.shape[0], samples = input.shape[^1];
        var perExample = Augmentation.PerExample(input);
        var dims = Augmentation.ExampleDims(input);

        var applied = Augmentation.Applied([batch], p, device);
        var snrDb = Augmentation.Uniform([batch], min_snr_db, max_snr_db, work, device);
        var background = _noise is null ? ColouredNoise(batch, samples, work, device) : FromBank(batch, samples, work, device); // (batch, samples)

        // gain² = P_signal / (P_noise · 10^(snr / 10)); examples that are silent, or whose noise is, get gain 0.
        using var zero = 0.ToScalar();
        using var dbToPower = (Math.Log(10) / 10).ToScalar();
        var x = input.to(work);
        var signalPower = x.pow(HeldScalars.Two).mean(dims, keepdim: false);
        var noisePower = background.pow(HeldScalars.Two).mean([1], keepdim: false);
        var ratio = signalPower.div(noisePower.mul(snrDb.mul(dbToPower).exp_()));
        ratio = ratio.masked_fill(noisePower.eq(zero), zero).masked_fill(applied.logical_not(), zero);
        var gain = ratio.sqrt_().reshape(perExample);
        var scaled = (input.dim() == 3 ? background.unsqueeze(1) : background).mul(gain);
        var output = x.add(scaled, HeldScalars.One).to(input.dtype);
        return (output.MoveToOuterDisposeScope(), snrDb.MoveToOuterDisposeScope(), applied.MoveToOuterDisposeScope());
    }

    /// <summary>White Gaussian noise shaped by <c>f^(−noise_exponent / 2)</c> in the frequency domain, DC removed.</summary>
    private Tensor ColouredNoise(long batch, long samples, ScalarType work, Device device)
    {
        using var scope = NewDisposeScope();
        var white = randn([batch, samples], dtype: work, device: device);
        long bins = samples / 2 + 1;
        using var start = 0.ToScalar();
        using var stop = bins.ToScalar();
        using var step = 1.ToScalar();
        using var exponent = (-noise_exponent / 2).ToScalar();
        // Bin k ≥ 1 gets k^(−exponent / 2) (the bin index stands for the frequency: the overall scale is set by the
        // SNR); bin 0, the DC, gets 0 (its weight would be infinite), for every exponent, white included.
        var shape = arange(start, stop, step, dtype: work, device: device).pow_(exponent);
        shape.index_fill_(0, zeros([1], dtype: ScalarType.Int64, device: device), start);
        var spectrum = fft.rfft(white, dim: -1).mul_(shape);
        return fft.irfft(spectrum, n: samples, dim: -1).MoveToOuterDisposeScope();
    }

    /// <summary>A random clip of the bank per example, from a random offset, looped to <paramref name="samples"/>.</summary>
    private Tensor FromBank(long batch, long samples, ScalarType work, Device device)
    {
        using var scope = NewDisposeScope();
        var bank = _noise!.On(device, work);
        long count = bank.shape[0], length = bank.shape[1];
        // A clip at least as long as the input starts where a whole excerpt fits; a shorter one anywhere, and loops.
        long starts = length >= samples ? length - samples + 1 : length;
        var clip = randint(count, [batch, 1], dtype: ScalarType.Int64, device: device);
        var offset = randint(starts, [batch, 1], dtype: ScalarType.Int64, device: device);
        using var start = 0.ToScalar();
        using var stop = samples.ToScalar();
        using var step = 1.ToScalar();
        using var lengthScalar = length.ToScalar();
        var position = arange(start, stop, step, dtype: ScalarType.Int64, device: device).unsqueeze(0)
            .add(offset, HeldScalars.One).remainder_(lengthScalar);                                   // (batch, samples)
        var flat = clip.mul(lengthScalar).add(position, HeldScalars.One);
        return bank.flatten().take(flat).MoveToOuterDisposeScope();
    }
}

public static partial class AudioLayers
{
    /// <summary>Background-noise augmentation at a random SNR, active only in training mode.</summary>
    /// <param name="min_snr_db">Lowest SNR in dB. Default 3 (torch-audiomentations).</param>
    /// <param name="max_snr_db">Highest SNR in dB, at least <paramref name="min_snr_db"/>. Default 30 (torch-audiomentations).</param>
    /// <param name="p">Probability that an example gets noise, in [0, 1]. Default 0.5 (torch-audiomentations).</param>
    /// <param name="noise">Noise bank <c>(noise_count, noise_samples)</c>, real floating point, on any device (it is
    /// moved to the input's); null to generate coloured noise. The layer keeps an alias of it.</param>
    /// <param name="noise_exponent">Exponent of the generated noise's power spectrum <c>f^−exponent</c>: 0 white,
    /// 1 pink, 2 brown; any finite value. Default 1 (pink). Ignored with a bank.</param>
    /// <param name="name">Module name.</param>
    public static BackgroundNoise BackgroundNoise(double min_snr_db = 3, double max_snr_db = 30, double p = 0.5, Tensor? noise = null,
        double noise_exponent = 1, string name = "background_noise")
        => new(name, noise, min_snr_db, max_snr_db, p, noise_exponent);
}
