using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>The waveform augmentation layers: <see cref="BackgroundNoise"/>, <see cref="SpeedPerturbation"/>,
/// <see cref="Reverberation"/> and <see cref="Mixup"/>.</summary>
[TestClass]
public sealed class AugmentationTests
{
    /// <summary>Measured SNR (from output − input) against the drawn one. float32 rounding of the mix costs about 1e-5 dB;
    /// 0.1 dB is what the brief asks.</summary>
    private const double SnrDb = 0.1;

    /// <summary>Spectral slope of generated noise, in dB/decade, fitted over bins 32 to 2047 of a 64-segment Welch
    /// average (262,144 samples): the estimate's standard error is about 0.05 dB/decade; 0.5 still tells pink (−10)
    /// from white (0) or an exponent applied to the amplitude instead of the power (−20).</summary>
    private const double SlopeDbPerDecade = 0.5;

    /// <summary>float32 FFT convolution (32,768 points) against the impulse response, relative to its largest value.</summary>
    private const double ConvolutionRel = 1e-5;

    /// <summary>Measured RT60 (Schroeder backward integration, line fitted from −5 to −25 dB) against the drawn one:
    /// the brief's 10 %. The Gaussian tail makes the estimate vary by a few percent.</summary>
    private const double Rt60Rel = 0.10;

    /// <summary>Energy before the input's onset, relative to the output's: float32 FFT round-off is below 1e-12; a
    /// circular wrap would put a large part of the tail there.</summary>
    private const double WrapEnergyRel = 1e-10;

    /// <summary>RMS after reverberation against the input's: float32 sums over 16,000 samples.</summary>
    private const double RmsRel = 1e-5;

    public enum Kind { BackgroundNoise, BankNoise, SpeedPerturbation, Reverberation, BankReverberation }

    private static nn.Module<Tensor, Tensor> Create(Kind kind) => kind switch
    {
        Kind.BackgroundNoise => AudioLayers.BackgroundNoise(p: 1),
        Kind.BankNoise => AudioLayers.BackgroundNoise(p: 1, noise: NoiseBank(3, 700, seed: 1)),
        Kind.SpeedPerturbation => AudioLayers.SpeedPerturbation([0.9, 1.1]),
        Kind.Reverberation => AudioLayers.Reverberation(sample_rate: 8000, p: 1, min_rt60: 0.05, max_rt60: 0.1),
        Kind.BankReverberation => AudioLayers.Reverberation(p: 1, impulse_responses: NoiseBank(2, 300, seed: 2)),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Gaussian clips (count, length) from a seed of their own.</summary>
    private static Tensor NoiseBank(int count, int length, int seed)
    {
        var rng = new Random(seed);
        var data = new float[count * length];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
        return tensor(data, [count, length]);
    }

    /// <summary>Sines of different frequencies and amplitudes per row, plus a little noise: (rows, length).</summary>
    private static float[] Signals(int rows, int length, int seed)
    {
        var rng = new Random(seed);
        var data = new float[rows * length];
        for (int r = 0; r < rows; r++)
        {
            double f = 200 + 300 * r, amplitude = 0.05 + 0.2 * r;
            for (int t = 0; t < length; t++)
                data[r * length + t] = (float)(amplitude * Math.Sin(2 * Math.PI * f * t / 16000) + 0.01 * (rng.NextDouble() - 0.5));
        }
        return data;
    }

    private static Tensor Input(long[] shape, int seed = 7)
    {
        long rows = shape[..^1].Aggregate(1L, (a, b) => a * b);
        return tensor(Signals((int)rows, (int)shape[^1], seed), shape);
    }

    private static double[] Rows(Tensor t, Func<float[], double> f)
    {
        var a = Compare.ToArray(t);
        long batch = t.shape[0], per = a.Length / batch;
        return [.. Enumerable.Range(0, (int)batch).Select(b => f(a[(int)(b * per)..(int)((b + 1) * per)]))];
    }

    private static double MeanSquare(float[] v) => v.Average(x => (double)x * x);

    // ---------------------------------------------------------------- common behaviour

    [TestMethod]
    [DataRow(Kind.BackgroundNoise)]
    [DataRow(Kind.BankNoise)]
    [DataRow(Kind.SpeedPerturbation)]
    [DataRow(Kind.Reverberation)]
    [DataRow(Kind.BankReverberation)]
    public void Eval_IsExactlyTheIdentity(Kind kind)
    {
        using var scope = NewDisposeScope();
        using var layer = Create(kind);
        layer.eval();
        foreach (long[] shape in new long[][] { [4, 3000], [2, 3, 3000] })
        {
            var x = Input(shape);
            var y = layer.call(x);
            Compare.Shape(y, shape, $"{kind} eval");
            CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(y), $"{kind}: evaluation must not change the input");
        }
    }

    [TestMethod]
    [DataRow(Kind.BackgroundNoise)]
    [DataRow(Kind.BankNoise)]
    [DataRow(Kind.SpeedPerturbation)]
    [DataRow(Kind.Reverberation)]
    [DataRow(Kind.BankReverberation)]
    public void Train_ChangesTheInput_KeepsShapeAndType_SharesTheDrawAcrossChannels(Kind kind)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(21);
        using var layer = Create(kind);
        layer.train();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            var x2 = Input([4, 3000]).to(dtype);
            var y2 = layer.call(x2);
            Compare.Shape(y2, [4, 3000], $"{kind} (batch, samples)");
            Assert.AreEqual(dtype, y2.dtype, $"{kind}: output type");
            Assert.IsTrue(y2.isfinite().all().item<bool>(), $"{kind}: non-finite output");
            CollectionAssert.AreNotEqual(Compare.ToArray(x2), Compare.ToArray(y2), $"{kind}: training should change the input");
        }

        // Channel 1 is channel 0 doubled: one draw per example keeps them proportional (noise is added, so compare
        // the change for the additive layer).
        var row = Input([2, 1, 3000]);
        var x = cat([row, row.add(row, HeldScalars.One)], 1);                                          // (2, 2, 3000)
        var y = layer.call(x);
        Compare.Shape(y, [2, 2, 3000], $"{kind} (batch, channels, samples)");
        // y − x rounds differently where x is doubled: 1e-4 of the noise is far above that and far below a second draw.
        if (kind is Kind.BackgroundNoise or Kind.BankNoise)
        {
            var change = y.sub(x);
            Compare.RelativeToMax(Compare.ToArray(change.select(1, 1)), Compare.ToArray(change.select(1, 0)), 1e-4, $"{kind}: channels share the noise");
        }
        else
            Compare.RelativeToMax(Compare.ToArray(y.select(1, 1)), Compare.ToArray(y.select(1, 0).add(y.select(1, 0), HeldScalars.One)),
                1e-6, $"{kind}: channels share the draw");
    }

    [TestMethod]
    [DataRow(Kind.BackgroundNoise)]
    [DataRow(Kind.BankNoise)]
    [DataRow(Kind.SpeedPerturbation)]
    [DataRow(Kind.Reverberation)]
    [DataRow(Kind.BankReverberation)]
    public void Train_IsRepeatable_WithTheSameSeed(Kind kind)
    {
        using var scope = NewDisposeScope();
        using var layer = Create(kind);
        layer.train();
        var x = Input([6, 2000]);
        var outputs = new List<float[]>();
        for (int i = 0; i < 2; i++)
        {
            random.manual_seed(5);
            var first = Compare.ToArray(layer.call(x));
            var second = Compare.ToArray(layer.call(x));
            outputs.Add(first);
            if (kind != Kind.SpeedPerturbation) // two factors: the second call may draw the first's
                CollectionAssert.AreNotEqual(first, second, $"{kind}: consecutive calls should draw anew");
        }
        CollectionAssert.AreEqual(outputs[0], outputs[1], $"{kind}: the same seed must give the same output");
    }

    [TestMethod]
    [DataRow(Kind.BackgroundNoise)]
    [DataRow(Kind.SpeedPerturbation)]
    [DataRow(Kind.Reverberation)]
    public void RejectsInputsThatAreNotABatchOfWaveforms(Kind kind)
    {
        using var scope = NewDisposeScope();
        using var layer = Create(kind);
        layer.train();
        foreach (var bad in new[] { randn(100), randn(2, 2, 2, 100), ones([2, 100], dtype: ScalarType.Int32) })
        {
            var e = Assert.Throws<ArgumentException>(() => layer.call(bad));
            Assert.AreEqual("input", e.ParamName, e.Message);
        }
    }

    [TestMethod]
    public void Arguments_AreValidated_NamingThem()
    {
        static void Names(string param, Action create)
        {
            var e = Assert.Throws<ArgumentException>(create);
            Assert.AreEqual(param, e.ParamName, e.Message);
        }
        Names("p", () => AudioLayers.BackgroundNoise(p: 1.5));
        Names("p", () => AudioLayers.Reverberation(p: -0.1));
        Names("min_snr_db", () => AudioLayers.BackgroundNoise(min_snr_db: 20, max_snr_db: 10));
        Names("max_snr_db", () => AudioLayers.BackgroundNoise(max_snr_db: double.NaN));
        Names("noise_exponent", () => AudioLayers.BackgroundNoise(noise_exponent: double.PositiveInfinity));
        Names("noise", () => AudioLayers.BackgroundNoise(noise: zeros(100)));
        Names("noise", () => AudioLayers.BackgroundNoise(noise: zeros([0, 100])));
        Names("factors", () => AudioLayers.SpeedPerturbation([]));
        Names("factors", () => AudioLayers.SpeedPerturbation([1.0, 0.0]));
        Names("factors", () => AudioLayers.SpeedPerturbation([double.NaN]));
        Names("rolloff", () => AudioLayers.SpeedPerturbation([1.1], rolloff: 1.5));
        Names("sample_rate", () => AudioLayers.Reverberation(sample_rate: 0));
        Names("min_rt60", () => AudioLayers.Reverberation(min_rt60: 0));
        Names("min_rt60", () => AudioLayers.Reverberation(min_rt60: 0.9, max_rt60: 0.5));
        Names("impulse_responses", () => AudioLayers.Reverberation(impulse_responses: zeros([2, 3, 4])));
        Names("alpha", () => AudioLayers.Mixup(alpha: 0));
    }

    // ---------------------------------------------------------------- BackgroundNoise

    [TestMethod]
    [DataRow(false, 2)]
    [DataRow(false, 3)]
    [DataRow(true, 2)]
    [DataRow(true, 3)]
    public void BackgroundNoise_MeasuredSnr_IsTheDrawnSnr(bool bank, int rank)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(31);
        using var layer = AudioLayers.BackgroundNoise(min_snr_db: -5, max_snr_db: 30, p: 1, noise: bank ? NoiseBank(3, 700, seed: 3) : null);
        layer.train();
        long[] shape = rank == 2 ? [8, 4000] : [8, 2, 4000];
        var x = Input(shape);
        var (y, snrDb, applied) = layer.Augment(x);
        Assert.IsTrue(applied.all().item<bool>(), "p = 1 applies to every example");
        var signal = Rows(x, MeanSquare);
        var noise = Rows(y.sub(x), MeanSquare);
        var drawn = Compare.ToArray(snrDb);
        for (int b = 0; b < drawn.Length; b++)
        {
            Assert.IsTrue(drawn[b] is >= -5 and <= 30, $"example {b}: drawn SNR {drawn[b]} outside [-5, 30]");
            double measured = 10 * Math.Log10(signal[b] / noise[b]);
            Assert.AreEqual(drawn[b], measured, SnrDb, $"example {b}: measured SNR");
        }
        Assert.IsGreaterThan(10.0, drawn.Max() - drawn.Min(), "SNRs are drawn per example");
    }

    [TestMethod]
    [DataRow(0.0, 0.0)]
    [DataRow(1.0, -10.0)]
    [DataRow(2.0, -20.0)]
    public void BackgroundNoise_GeneratedNoise_HasTheSpectralSlope(double exponent, double dbPerDecade)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(41);
        const int segment = 4096, segments = 64;
        using var layer = AudioLayers.BackgroundNoise(min_snr_db: 10, max_snr_db: 10, p: 1, noise_exponent: exponent);
        layer.train();
        var x = ones(1, segment * segments);                     // any signal with power: the noise is y − x
        var noise = layer.call(x).sub(x).reshape(segments, segment);
        var window = hann_window(segment, periodic: true);
        var psd = Compare.ToArray(fft.rfft(noise.mul(window), dim: -1).abs().pow(HeldScalars.Two).mean([0]));
        var bins = Enumerable.Range(32, segment / 2 - 32).ToArray();
        double[] lx = [.. bins.Select(k => Math.Log10(k))], ly = [.. bins.Select(k => 10 * Math.Log10(psd[k]))];
        double mx = lx.Average(), my = ly.Average();
        double slope = lx.Zip(ly, (a, b) => (a - mx) * (b - my)).Sum() / lx.Sum(a => (a - mx) * (a - mx));
        Console.WriteLine($"exponent {exponent}: slope {slope:F3} dB/decade (expected {dbPerDecade})");
        Assert.AreEqual(dbPerDecade, slope, SlopeDbPerDecade, "spectral slope in dB/decade");
    }

    [TestMethod]
    public void BackgroundNoise_SilentInputOrSilentClip_StaysFinite_AndSilentInputStaysSilent()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(51);
        var x = cat([zeros(2, 1000), Input([2, 1000])], 0);      // two silent examples, two not
        foreach (var noise in new Tensor?[] { null, zeros(2, 500) })
        {
            using var layer = AudioLayers.BackgroundNoise(p: 1, noise: noise);
            layer.train();
            var y = layer.call(x);
            Assert.IsTrue(y.isfinite().all().item<bool>(), "non-finite output");
            CollectionAssert.AreEqual(new float[2000], Compare.ToArray(y.narrow(0, 0, 2)), "silent examples stay silent");
            if (noise is not null)
                CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(y), "a silent noise clip adds nothing");
        }
    }

    [TestMethod]
    public void BackgroundNoise_FromABank_AddsAScaledLoopedExcerptOfOneClip()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(61);
        const int clipLength = 300, length = 1000;
        var bank = NoiseBank(2, clipLength, seed: 4);
        var clips = Compare.ToArray(bank);
        using var layer = AudioLayers.BackgroundNoise(min_snr_db: 0, max_snr_db: 10, p: 1, noise: bank);
        layer.train();
        var x = Input([6, length]);
        var added = Compare.ToArray(layer.call(x).sub(x));
        var used = new HashSet<int>();
        for (int b = 0; b < 6; b++)
        {
            var n = added[(b * length)..((b + 1) * length)];
            double peak = n.Max(v => Math.Abs((double)v));
            // Find the clip and offset whose looped excerpt, scaled by least squares, is the added noise.
            (int clip, int offset, double err) best = (-1, -1, double.MaxValue);
            for (int c = 0; c < 2; c++)
                for (int o = 0; o < clipLength; o++)
                {
                    double dot = 0, norm = 0, err = 0;
                    for (int t = 0; t < length; t++)
                    {
                        double v = clips[c * clipLength + (o + t) % clipLength];
                        dot += n[t] * v;
                        norm += v * v;
                    }
                    double gain = dot / norm;
                    for (int t = 0; t < length && err < 1e-3 * peak; t++)
                        err = Math.Max(err, Math.Abs(n[t] - gain * clips[c * clipLength + (o + t) % clipLength]));
                    if (err < best.err) best = (c, o, err);
                }
            Console.WriteLine($"example {b}: clip {best.clip}, offset {best.offset}, max residual {best.err / peak:G3} of the peak");
            Assert.IsLessThan(1e-5, best.err / peak, $"example {b}: the added noise is no looped excerpt of a bank clip");
            used.Add(best.clip);
        }
        Assert.HasCount(2, used, "both clips should be drawn across 6 examples (probability of missing one: 1/32)");
    }

    [TestMethod]
    public void BackgroundNoise_Probability_LeavesTheOtherExamplesExactlyUnchanged()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(71);
        var x = Input([200, 100]);
        using (var never = AudioLayers.BackgroundNoise(p: 0))
        {
            never.train();
            CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(never.call(x)), "p = 0 is the identity");
        }
        using var half = AudioLayers.BackgroundNoise(p: 0.5);
        half.train();
        var (y, _, applied) = half.Augment(x);
        var mask = applied.data<bool>().ToArray();
        var changed = Rows(y.sub(x), MeanSquare);
        for (int b = 0; b < 200; b++)
            Assert.AreEqual(mask[b], changed[b] > 0, $"example {b}: applied {mask[b]}, changed by {changed[b]}");
        Assert.IsTrue(mask.Count(m => m) is > 60 and < 140, $"{mask.Count(m => m)} of 200 examples got noise at p = 0.5");
    }

    [TestMethod]
    public void Banks_AreNotState_AndStayTheCallers()
    {
        using var scope = NewDisposeScope();
        var noise = NoiseBank(2, 50, seed: 5);
        var irs = NoiseBank(2, 50, seed: 6);
        using (var a = AudioLayers.BackgroundNoise(noise: noise))
        using (var b = AudioLayers.Reverberation(impulse_responses: irs))
        {
            Assert.IsEmpty(a.state_dict(), "the noise bank is data, not saved state");
            Assert.IsEmpty(b.state_dict(), "the impulse responses are data, not saved state");
            a.train();
            b.train();
            a.call(Input([2, 100]).to(ScalarType.Float64));   // makes the layer's float64 copy
            b.call(Input([2, 100]).to(ScalarType.Float64));
        }
        // Disposing the layers freed their copies, not the caller's tensors.
        Assert.AreEqual(2 * 50, Compare.ToArray(noise).Length);
        Assert.AreEqual(2 * 50, Compare.ToArray(irs).Length);
    }

    // ---------------------------------------------------------------- SpeedPerturbation

    /// <summary>Frequency of the strongest bin of a Hann-windowed 8192-point FFT of <paramref name="signal"/> from
    /// <paramref name="start"/>, and the bin width.</summary>
    private static (double frequency, double bin) Peak(Tensor signal, long start, double rate)
    {
        const int n = 8192;
        using var scope = NewDisposeScope();
        var spectrum = Compare.ToArray(fft.rfft(signal.narrow(-1, start, n).mul(hann_window(n, periodic: true)), dim: -1).abs());
        int k = Array.IndexOf(spectrum, spectrum.Max());
        return (k * rate / n, rate / n);
    }

    private static Tensor Sine(double frequency, int length, double rate = 16000)
        => tensor(Enumerable.Range(0, length).Select(t => (float)(0.5 * Math.Sin(2 * Math.PI * frequency * t / rate))).ToArray(), [1, length]);

    [TestMethod]
    [DataRow(1.1, 1100.0)]
    [DataRow(0.9, 900.0)]
    public void SpeedPerturbation_ScalesTheFrequencyByTheFactor_KaldiConvention(double factor, double expected)
    {
        // Kaldi/torchaudio: speed 1.1 plays the clip 1.1 times faster: shorter, and a 1 kHz tone comes out at 1.1 kHz.
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.SpeedPerturbation([factor]);
        layer.train();
        var (y, drawn) = layer.Augment(Sine(1000, 16000));
        Assert.AreEqual(factor, drawn);
        Compare.Shape(y, [1, 16000], "speed-perturbed");
        var (frequency, bin) = Peak(y, 4000, 16000);
        Console.WriteLine($"factor {factor}: peak at {frequency:F1} Hz (bin {bin:F2} Hz)");
        Assert.AreEqual(expected, frequency, bin, $"factor {factor}: peak frequency");
    }

    [TestMethod]
    public void SpeedPerturbation_CentresTheResult_PaddingAFasterClip_CroppingASlowerOne()
    {
        using var scope = NewDisposeScope();
        var x = Input([2, 16000]);
        using var faster = AudioLayers.SpeedPerturbation([2.0]);
        faster.train();
        var y = faster.call(x);
        // 8000 resampled samples, 4000 zeros on each side.
        var a = Compare.ToArray(y);
        for (int b = 0; b < 2; b++)
        {
            Assert.IsTrue(a.AsSpan(b * 16000, 4000).ToArray().All(v => v == 0), $"row {b}: leading padding");
            Assert.IsTrue(a.AsSpan(b * 16000 + 12000, 4000).ToArray().All(v => v == 0), $"row {b}: trailing padding");
            Assert.IsGreaterThan(0.0, MeanSquare(a.AsSpan(b * 16000 + 4000, 8000).ToArray()), $"row {b}: content in the middle");
        }
        // Halving the speed: the middle of the doubled clip, i.e. input samples 4000..12000 stretched.
        using var slower = AudioLayers.SpeedPerturbation([0.5]);
        slower.train();
        var (frequency, bin) = Peak(slower.call(Sine(1000, 16000)), 4000, 16000);
        Assert.AreEqual(500, frequency, bin, "factor 0.5: peak frequency");
    }

    [TestMethod]
    public void SpeedPerturbation_Factor1_IsTheIdentity()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.SpeedPerturbation([1.0]);
        layer.train();
        var x = Input([3, 2, 5000]);
        CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(layer.call(x)));
    }

    [TestMethod]
    public void SpeedPerturbation_DrawsOneFactorPerBatch_FromTheSet()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(81);
        using var layer = AudioLayers.SpeedPerturbation();
        CollectionAssert.AreEqual(new[] { 0.9, 1.0, 1.1 }, layer.factors.ToArray(), "Kaldi's default set");
        layer.train();
        var row = Input([1, 4000]);
        var x = cat([row, row, row], 0);
        var seen = new HashSet<double>();
        for (int i = 0; i < 30; i++)
        {
            var (y, factor) = layer.Augment(x);
            seen.Add(factor);
            var rows = Compare.ToArray(y);
            CollectionAssert.AreEqual(rows[..4000], rows[4000..8000], "the batch shares one factor");
            CollectionAssert.AreEqual(rows[..4000], rows[8000..], "the batch shares one factor");
        }
        CollectionAssert.AreEquivalent(new[] { 0.9, 1.0, 1.1 }, seen.ToArray(), "each factor drawn in 30 batches");
    }

    [TestMethod]
    public void SpeedPerturbation_Ratio_RoundsToThousandths()
    {
        Assert.AreEqual((11L, 10L), SpeedPerturbation.Ratio(1.1));
        Assert.AreEqual((9L, 10L), SpeedPerturbation.Ratio(0.9));
        Assert.AreEqual((1L, 1L), SpeedPerturbation.Ratio(1.0004));
        Assert.AreEqual((333L, 1000L), SpeedPerturbation.Ratio(1.0 / 3));
    }

    // ---------------------------------------------------------------- Reverberation

    private static Tensor Impulse(int batch, int length, int at = 0)
    {
        var data = new float[batch * length];
        for (int b = 0; b < batch; b++) data[b * length + at] = 1;
        return tensor(data, [batch, length]);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Reverberation_OfAnImpulse_IsTheImpulseResponse_ScaledToTheInputRms(bool bank)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(91);
        var irs = NoiseBank(3, 500, seed: 6);
        using var layer = AudioLayers.Reverberation(sample_rate: 8000, p: 1, min_rt60: 0.1, max_rt60: 0.3, impulse_responses: bank ? irs : null);
        layer.train();
        const int length = 4000;
        var x = Impulse(4, length);
        var (y, ir, rt60, _) = layer.Augment(x);
        var irRows = Compare.ToArray(ir);
        int irLength = (int)ir.shape[1];
        Assert.AreEqual(bank ? 500 : 2400, irLength, "impulse-response length");
        var bankRows = Compare.ToArray(irs);
        var outRows = Compare.ToArray(y);
        for (int b = 0; b < 4; b++)
        {
            var h = irRows[(b * irLength)..((b + 1) * irLength)];
            if (bank)
                Assert.IsTrue(Enumerable.Range(0, 3).Any(c => bankRows[(c * 500)..((c + 1) * 500)].SequenceEqual(h)), $"example {b}: IR not from the bank");
            else
                Assert.AreEqual(1f, h[0], $"example {b}: the direct path is 1 at t = 0");
            // Expected: the IR, zero-padded to the input's length, scaled to the impulse's RMS.
            var expected = new float[length];
            h.CopyTo(expected, 0);
            double gain = Math.Sqrt(1.0 / length / MeanSquare(expected));
            var scaled = expected.Select(v => (float)(v * gain)).ToArray();
            Compare.RelativeToMax(outRows[(b * length)..((b + 1) * length)], scaled, ConvolutionRel, $"example {b}");
        }
        if (!bank)
            Assert.IsTrue(Compare.ToArray(rt60).All(r => r is >= 0.1f and <= 0.3f), "RT60 drawn in [0.1, 0.3] s");
    }

    [TestMethod]
    public void Reverberation_SyntheticDecay_MatchesTheDrawnRt60_BySchroederIntegration()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(101);
        const int rate = 16000, length = 16000;
        using var layer = AudioLayers.Reverberation(sample_rate: rate, p: 1);  // RT60 0.2 to 0.8 s
        layer.train();
        var (y, _, rt60, _) = layer.Augment(Impulse(6, length));
        var outRows = Compare.ToArray(y);
        var drawn = Compare.ToArray(rt60);
        for (int b = 0; b < 6; b++)
        {
            // Schroeder: energy remaining after t, in dB of the total; a line fitted from −5 to −25 dB, extrapolated to −60.
            var h = outRows[(b * length)..((b + 1) * length)];
            var edc = new double[length];
            double sum = 0;
            for (int t = length - 1; t >= 0; t--) edc[t] = sum += (double)h[t] * h[t];
            var points = Enumerable.Range(0, length).Select(t => (t: (double)t / rate, db: 10 * Math.Log10(edc[t] / edc[0])))
                .Where(p => p.db is <= -5 and >= -25).ToArray();
            double mt = points.Average(p => p.t), md = points.Average(p => p.db);
            double slope = points.Sum(p => (p.t - mt) * (p.db - md)) / points.Sum(p => (p.t - mt) * (p.t - mt));
            double measured = -60 / slope;
            Console.WriteLine($"example {b}: RT60 drawn {drawn[b]:F3} s, measured {measured:F3} s");
            Assert.AreEqual(drawn[b], measured, drawn[b] * Rt60Rel, $"example {b}: RT60");
        }
        Assert.IsGreaterThan(0.2, drawn.Max() - drawn.Min(), "RT60 drawn per example");
    }

    [TestMethod]
    public void Reverberation_HasNoCircularWrap_NothingBeforeTheOnset()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(111);
        const int onset = 4000, length = 16000;
        using var layer = AudioLayers.Reverberation(sample_rate: 16000, p: 1);  // 12,800-sample IRs
        layer.train();
        // Silence, then noise up to the very end: the convolution's tail (16,000 + 12,799 samples) would wrap onto the start.
        var x = cat([zeros(3, onset), randn(3, length - onset)], 1);
        var y = layer.call(x);
        var before = y.narrow(1, 0, onset).pow(HeldScalars.Two).sum().item<float>();
        var total = y.pow(HeldScalars.Two).sum().item<float>();
        Console.WriteLine($"energy before the onset: {before / total:G3} of the total");
        Assert.IsLessThan(WrapEnergyRel, before / total, "energy before the input's onset");
    }

    [TestMethod]
    public void Reverberation_KeepsEachExamplesRms_SilenceStaysSilent_AndProbabilitySelects()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(121);
        var x = cat([Input([4, 16000]), zeros(1, 16000)], 0);
        using var layer = AudioLayers.Reverberation(p: 1);
        layer.train();
        var y = layer.call(x);
        var rmsIn = Rows(x, MeanSquare);
        var rmsOut = Rows(y, MeanSquare);
        for (int b = 0; b < 4; b++)
            Assert.AreEqual(1.0, Math.Sqrt(rmsOut[b] / rmsIn[b]), RmsRel, $"example {b}: RMS ratio");
        CollectionAssert.AreEqual(new float[16000], Compare.ToArray(y.select(0, 4)), "a silent example stays silent");

        using var never = AudioLayers.Reverberation(p: 0);
        never.train();
        CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(never.call(x)), "p = 0 is the identity");

        using var half = AudioLayers.Reverberation(p: 0.5, max_rt60: 0.3);
        half.train();
        var many = Input([64, 2000]);
        var (z, _, _, applied) = half.Augment(many);
        var mask = applied.data<bool>().ToArray();
        var changed = Rows(z.sub(many), MeanSquare);
        for (int b = 0; b < 64; b++)
            Assert.AreEqual(mask[b], changed[b] > 0, $"example {b}: applied {mask[b]}, changed by {changed[b]}");
        Assert.IsTrue(mask.Count(m => m) is > 16 and < 48, $"{mask.Count(m => m)} of 64 examples reverberated at p = 0.5");
    }

    // ---------------------------------------------------------------- Mixup

    private static Tensor Labels(int batch, int classes, int seed)
    {
        var rng = new Random(seed);
        return tensor(Enumerable.Range(0, batch).Select(_ => (long)rng.Next(classes)).ToArray(), [batch]);
    }

    [TestMethod]
    [DataRow(2)]
    [DataRow(3)]
    public void Mixup_MixesInputsAndLabels_ExactlyByTheDrawnLambdaAndPermutation(int rank)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(131);
        const int batch = 16, classes = 5;
        using var layer = AudioLayers.Mixup(alpha: 0.4);
        layer.train();
        long[] shape = rank == 2 ? [batch, 300] : [batch, 2, 300];
        var x = Input(shape);
        var labels = Labels(batch, classes, seed: 1);
        var (mixed, targets, lambda, permutation) = layer.Augment(x, labels, classes);
        Compare.Shape(mixed, shape, "mixed input");
        Compare.Shape(targets, [batch, classes], "targets");

        var l = Compare.ToArray(lambda);
        var perm = permutation.data<long>().ToArray();
        CollectionAssert.AreEquivalent(Enumerable.Range(0, batch).Select(i => (long)i).ToArray(), perm, "a permutation of the batch");
        Assert.IsTrue(l.All(v => v is >= 0 and <= 1), "λ in [0, 1]");
        Assert.IsTrue(perm.Where((j, i) => j != i).Any(), "some examples meet another");

        var xs = Compare.ToArray(x);
        var ys = Compare.ToArray(mixed);
        var ts = Compare.ToArray(targets);
        var ls = labels.data<long>().ToArray();
        int per = xs.Length / batch;
        for (int i = 0; i < batch; i++)
        {
            int j = (int)perm[i];
            for (int k = 0; k < per; k++)
            {
                float expected = l[i] * xs[i * per + k] + (1f - l[i]) * xs[j * per + k];
                Assert.AreEqual(expected, ys[i * per + k], $"example {i}, sample {k}: λ·x_i + (1 − λ)·x_j");
            }
            double rowSum = 0;
            for (int c = 0; c < classes; c++)
            {
                float expected = l[i] * (ls[i] == c ? 1f : 0f) + (1f - l[i]) * (ls[j] == c ? 1f : 0f);
                Assert.AreEqual(expected, ts[i * classes + c], $"example {i}, class {c}: mixed target");
                rowSum += ts[i * classes + c];
            }
            Assert.AreEqual(1.0, rowSum, 1e-6, $"example {i}: targets sum to 1");
        }
    }

    [TestMethod]
    public void Mixup_OneHotAndIndexLabels_GiveTheSameTargets_AndEvalOnlyEncodesThem()
    {
        using var scope = NewDisposeScope();
        const int batch = 8, classes = 4;
        using var layer = AudioLayers.Mixup();
        var x = Input([batch, 100]);
        var labels = Labels(batch, classes, seed: 2);
        var oneHot = nn.functional.one_hot(labels, classes).to(ScalarType.Float32);

        layer.train();
        random.manual_seed(141);
        var (xa, ta) = layer.call(x, labels, classes);
        random.manual_seed(141);
        var (xb, tb) = layer.call(x, oneHot, classes);
        CollectionAssert.AreEqual(Compare.ToArray(xa), Compare.ToArray(xb), "input mixed the same way");
        CollectionAssert.AreEqual(Compare.ToArray(ta), Compare.ToArray(tb), "index and one-hot labels mix the same");
        random.manual_seed(141);
        var (xc, _) = layer.call(x, labels.to(ScalarType.Int32), classes);
        CollectionAssert.AreEqual(Compare.ToArray(xa), Compare.ToArray(xc), "int32 labels");

        layer.eval();
        var (xe, te) = layer.call(x, labels, classes);
        CollectionAssert.AreEqual(Compare.ToArray(x), Compare.ToArray(xe), "evaluation leaves the input");
        CollectionAssert.AreEqual(Compare.ToArray(oneHot), Compare.ToArray(te), "evaluation returns one-hot targets");
    }

    [TestMethod]
    public void Mixup_Lambda_FollowsBetaAlphaAlpha()
    {
        // Beta(α, α): mean 1/2, variance 1 / (4 (2α + 1)); 20,000 draws estimate the variance to about 1 %.
        using var scope = NewDisposeScope();
        random.manual_seed(151);
        foreach (double alpha in new[] { 0.2, 1.0 })
        {
            using var layer = AudioLayers.Mixup(alpha);
            layer.train();
            const int batch = 20000;
            var (_, _, lambda, _) = layer.Augment(zeros(batch, 1), zeros([batch], dtype: ScalarType.Int64), 2);
            var l = Compare.ToArray(lambda);
            Assert.IsTrue(l.All(v => v is >= 0 and <= 1 && !float.IsNaN(v)), "λ in [0, 1]");
            double mean = l.Average(v => (double)v), variance = l.Average(v => (v - mean) * (v - mean));
            double expected = 1 / (4 * (2 * alpha + 1));
            Console.WriteLine($"alpha {alpha}: mean {mean:F4}, variance {variance:F4} (expected {expected:F4})");
            Assert.AreEqual(0.5, mean, 0.01, $"alpha {alpha}: mean of λ");
            Assert.AreEqual(expected, variance, expected * 0.05, $"alpha {alpha}: variance of λ");
        }
    }

    [TestMethod]
    public void Mixup_SoftTargetCrossEntropy_IsTheMixOfTheTwoLosses()
    {
        // What a trainer does: cross_entropy(logits, soft targets) = mean over i of λ·CE(z_i, y_i) + (1 − λ)·CE(z_i, y_j).
        using var scope = NewDisposeScope();
        random.manual_seed(161);
        const int batch = 12, classes = 6;
        using var layer = AudioLayers.Mixup(alpha: 1.0);
        layer.train();
        var labels = Labels(batch, classes, seed: 3);
        var (_, targets, lambda, permutation) = layer.Augment(Input([batch, 50]), labels, classes);
        var logits = randn(batch, classes);
        double loss = nn.functional.cross_entropy(logits, targets).item<float>();

        var logp = Compare.ToArray(nn.functional.log_softmax(logits, 1));
        var l = Compare.ToArray(lambda);
        var perm = permutation.data<long>().ToArray();
        var ls = labels.data<long>().ToArray();
        double expected = Enumerable.Range(0, batch)
            .Average(i => -(l[i] * logp[i * classes + ls[i]] + (1 - l[i]) * logp[i * classes + ls[perm[i]]]));
        Assert.AreEqual(expected, loss, 1e-5, "soft-target cross-entropy");
    }

    [TestMethod]
    public void Mixup_RejectsLabelsThatDoNotFit()
    {
        using var scope = NewDisposeScope();
        using var layer = AudioLayers.Mixup();
        layer.train();
        var x = randn(4, 100);
        foreach (var bad in new[] { zeros([3], dtype: ScalarType.Int64), zeros(4, 3), zeros([4, 5], dtype: ScalarType.Int64), zeros(4) })
        {
            var e = Assert.Throws<ArgumentException>(() => layer.call(x, bad, 5));
            Assert.AreEqual("labels", e.ParamName, e.Message);
        }
        Assert.AreEqual("input", Assert.Throws<ArgumentException>(() => layer.call(randn(4), zeros([4], dtype: ScalarType.Int64), 5)).ParamName);
        Assert.AreEqual("classes", Assert.Throws<ArgumentException>(() => layer.call(x, zeros([4], dtype: ScalarType.Int64), 0)).ParamName);
    }
}
