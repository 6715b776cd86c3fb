// Band-limited resampling by polyphase windowed-sinc interpolation. Semantics follow
// torchaudio.functional.resample 0.13 (pytorch/audio, BSD-2-Clause,
// https://github.com/pytorch/audio/blob/v0.13.1/torchaudio/functional/functional.py), itself after
// Smith's bandlimited interpolation (https://ccrma.stanford.edu/~jos/resample/). No code was copied.
using System.Numerics;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>Window of the sinc interpolation kernel of <see cref="Functional.resample"/>.</summary>
/// <remarks>The numeric values are written into saved models: do not change them.</remarks>
public enum ResamplingMethod
{
    /// <summary>Hann window, <c>cos²</c> over the kernel's zero crossings (torchaudio <c>"sinc_interp_hann"</c>,
    /// <c>"sinc_interpolation"</c> before 2.0; the default).</summary>
    SincInterpHann = 0,
    /// <summary>Kaiser window (torchaudio <c>"sinc_interp_kaiser"</c>, <c>"kaiser_window"</c> before 2.0).</summary>
    SincInterpKaiser = 1,
}

public static partial class Functional
{
    /// <summary>Zero crossings of the sinc kept on each side: 6 (torchaudio's default).</summary>
    public const long ResampleLowpassFilterWidth = 6;

    /// <summary>Cutoff as a fraction of the lower Nyquist frequency: 0.99 (torchaudio's default).</summary>
    public const double ResampleRolloff = 0.99;

    /// <summary>Kaiser β used when none is given: 14.769656459379492 (torchaudio's default, from librosa's
    /// "kaiser_best" resampling filter).</summary>
    public const double ResampleKaiserBeta = 14.769656459379492;

    /// <summary>Most weights a resampling kernel may have: 2^26 (256 MB in float32, 512 MB while built in float64).
    /// Rates with a small common divisor (44100 → 16001 Hz: 16001 phases of 44135 taps) would otherwise exhaust memory
    /// instead of failing with a message.</summary>
    public const long MaxResampleKernelWeights = 1L << 26;

    /// <summary>
    /// Resamples a signal from <paramref name="orig_freq"/> to <paramref name="new_freq"/> Hz by band-limited sinc
    /// interpolation (torchaudio.functional.resample; Kapre has no resampling layer).
    /// </summary>
    /// <remarks>
    /// <para>The rates are divided by their greatest common divisor, <c>orig / g → new / g</c>. Output sample
    /// <c>j</c> is the input interpolated at time <c>j · orig / new</c> by a low-pass sinc at <paramref name="rolloff"/>
    /// × the lower Nyquist frequency, windowed to <paramref name="lowpass_filter_width"/> zero crossings on each
    /// side; the <c>new / g</c> phases of that kernel run as one strided conv1d on the input's device. Samples
    /// outside the signal are zeros. The kernel is built in float64 and cast to the input's type.</para>
    /// <para>With torchaudio's defaults the filter is short: the stopband starts well above the new Nyquist
    /// frequency, so tones just above it are attenuated by only 10 to 20 dB. Raise
    /// <paramref name="lowpass_filter_width"/> and lower <paramref name="rolloff"/> for stronger anti-aliasing.</para>
    /// <para>The kernel has <c>(new / g) · (2 · width + orig / g)</c> weights, <c>width = ⌈lowpass_filter_width ·
    /// (orig / g) / (rolloff · min(orig, new) / g)⌉</c>: small for related rates (44.1 → 16 kHz: 160 × 475), too large
    /// (more than <see cref="MaxResampleKernelWeights"/>) for rates with a small common divisor.</para>
    /// </remarks>
    /// <param name="waveform">Signal <c>(..., time)</c>, float32 or float64, on any device.</param>
    /// <param name="orig_freq">Sample rate of <paramref name="waveform"/>, in Hz.</param>
    /// <param name="new_freq">Sample rate of the result, in Hz.</param>
    /// <param name="lowpass_filter_width">Zero crossings of the sinc on each side; sharper but longer filters as it
    /// grows. Default 6.</param>
    /// <param name="rolloff">Cutoff as a fraction of the lower Nyquist frequency, in (0, 1]. Default 0.99.</param>
    /// <param name="resampling_method">Window of the sinc. Default Hann.</param>
    /// <param name="beta">Kaiser β, for <see cref="ResamplingMethod.SincInterpKaiser"/> only. Default
    /// <see cref="ResampleKaiserBeta"/>.</param>
    /// <returns><c>(..., ⌈time · new_freq / orig_freq⌉)</c> in the input's type; the input itself (an alias) when the
    /// rates are equal.</returns>
    /// <exception cref="ArgumentException">The waveform is not floating point or has no dimension, a rate or the
    /// filter width is not positive, the rolloff is outside (0, 1], β is given for the Hann method or negative, or the
    /// kernel would exceed <see cref="MaxResampleKernelWeights"/>.</exception>
    public static Tensor resample(Tensor waveform, long orig_freq, long new_freq, long lowpass_filter_width = ResampleLowpassFilterWidth,
        double rolloff = ResampleRolloff, ResamplingMethod resampling_method = ResamplingMethod.SincInterpHann, double? beta = null)
    {
        CheckWaveform(waveform, nameof(waveform));
        CheckResampleArguments(orig_freq, new_freq, lowpass_filter_width, rolloff, resampling_method, beta);
        if (orig_freq == new_freq)
            return waveform.alias();
        var (kernel, width) = sinc_resample_kernel(orig_freq, new_freq, lowpass_filter_width, rolloff, resampling_method, beta,
            waveform.dtype, waveform.device);
        using (kernel)
            return ApplyResampleKernel(waveform, orig_freq, new_freq, kernel, width);
    }

    /// <summary>Samples that <see cref="resample"/> returns for <paramref name="length"/> input samples:
    /// <c>⌈length · new_freq / orig_freq⌉</c>.</summary>
    public static long resampled_length(long length, long orig_freq, long new_freq)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, $"length must not be negative, got: {length}");
        Check.Positive(orig_freq);
        Check.Positive(new_freq);
        return (long)(((Int128)length * new_freq + orig_freq - 1) / orig_freq);
    }

    /// <summary>
    /// The polyphase kernel of <see cref="resample"/>, built in float64 and cast to <paramref name="dtype"/>:
    /// <c>(new / g, 1, 2 · width + orig / g)</c>, one row per output phase, and the zeros to pad before the signal.
    /// </summary>
    /// <remarks>Weight <c>i</c> of phase <c>j</c> is <c>s · sinc(π t) · w(t)</c> with
    /// <c>t = clamp(((i − width) / orig − j / new) · rolloff · min(orig, new), ±lowpass_filter_width)</c> in units of the cutoff period and
    /// <c>s = rolloff · min(orig, new) / orig</c> (the reduced rates), as torchaudio's <c>_get_sinc_resample_kernel</c>.</remarks>
    /// <returns>The kernel and <c>width</c>; equal rates give the identity kernel <c>(1, 1, 1)</c> and width 0.</returns>
    public static (Tensor kernel, long width) sinc_resample_kernel(long orig_freq, long new_freq,
        long lowpass_filter_width = ResampleLowpassFilterWidth, double rolloff = ResampleRolloff,
        ResamplingMethod resampling_method = ResamplingMethod.SincInterpHann, double? beta = null,
        ScalarType? dtype = null, Device? device = null)
    {
        CheckResampleArguments(orig_freq, new_freq, lowpass_filter_width, rolloff, resampling_method, beta);
        var type = dtype ?? ScalarType.Float32;
        if (type is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype must be a real floating-point type, got {type}", nameof(dtype));
        if (orig_freq == new_freq)
            return (ones(new long[] { 1, 1, 1 }, dtype: type, device: device), 0);

        long g = (long)BigInteger.GreatestCommonDivisor(orig_freq, new_freq);
        long orig = orig_freq / g, up = new_freq / g;
        double baseFreq = Math.Min(orig, up) * rolloff;
        long width = (long)Math.Ceiling(lowpass_filter_width * orig / baseFreq);
        long taps = 2 * width + orig;
        long count = up * taps;
        if (count > MaxResampleKernelWeights)
            throw new ArgumentException($"new_freq {new_freq} and orig_freq {orig_freq} have a common divisor of only {g}: the kernel would have " +
                $"{count} weights ({up} phases of {taps}), more than {MaxResampleKernelWeights}. Choose rates with a larger common divisor", nameof(new_freq));

        double lpw = lowpass_filter_width;
        double kaiserBeta = beta ?? ResampleKaiserBeta;
        double i0Beta = BesselI0(kaiserBeta);
        double scale = baseFreq / orig;
        var weights = new double[count];
        for (long j = 0; j < up; j++)
        {
            for (long i = 0; i < taps; i++)
            {
                // The same operations, in the same order, as torchaudio's float64 kernel.
                double t = (-(double)j / up + (double)(i - width) / orig) * baseFreq;
                t = Math.Clamp(t, -lpw, lpw);
                double window = resampling_method == ResamplingMethod.SincInterpHann
                    ? Math.Pow(Math.Cos(t * Math.PI / lpw / 2), 2)
                    : BesselI0(kaiserBeta * Math.Sqrt(1 - Math.Pow(t / lpw, 2))) / i0Beta;
                t *= Math.PI;
                double sinc = t == 0 ? 1.0 : Math.Sin(t) / t;
                weights[j * taps + i] = sinc * (window * scale);
            }
        }
        using var scope = NewDisposeScope();
        var kernel = tensor(weights, dtype: ScalarType.Float64).reshape(up, 1, taps).to(type, device ?? CPU);
        return (kernel.MoveToOuterDisposeScope(), width);
    }

    /// <summary>Pads, convolves with stride <c>orig / g</c>, interleaves the phases and trims; no argument checks
    /// beyond the waveform's (torchaudio's <c>_apply_sinc_resample_kernel</c>).</summary>
    internal static Tensor ApplyResampleKernel(Tensor waveform, long orig_freq, long new_freq, Tensor kernel, long width)
    {
        using var scope = NewDisposeScope();
        long length = waveform.shape[^1];
        long target = resampled_length(length, orig_freq, new_freq);
        long g = (long)BigInteger.GreatestCommonDivisor(orig_freq, new_freq);
        long orig = orig_freq / g;
        var k = kernel.dtype == waveform.dtype && Devices.SameDevice(kernel.device, waveform.device) ? kernel : kernel.to(waveform.dtype, waveform.device);
        var x = waveform.reshape(-1, length);
        long signals = x.shape[0];
        var padded = nn.functional.pad(x, [width, width + orig]).unsqueeze(1);      // (signals, 1, width + time + width + orig)
        var phases = nn.functional.conv1d(padded, k, stride: orig);                  // (signals, new / g, time / orig + 1)
        var y = phases.transpose(1, 2).reshape(signals, -1).narrow(1, 0, target);    // phase j of block b is sample b · new + j
        long[] shape = [.. waveform.shape[..^1], target];
        return y.reshape(shape).MoveToOuterDisposeScope();
    }

    private static void CheckResampleArguments(long orig_freq, long new_freq, long lowpass_filter_width, double rolloff,
        ResamplingMethod resampling_method, double? beta)
    {
        Check.Positive(orig_freq);
        Check.Positive(new_freq);
        Check.Positive(lowpass_filter_width);
        if (!(rolloff > 0 && rolloff <= 1))
            throw new ArgumentOutOfRangeException(nameof(rolloff), rolloff, $"rolloff must be in (0, 1], got: {rolloff}");
        Check.Defined(resampling_method);
        if (beta is double b)
        {
            if (resampling_method != ResamplingMethod.SincInterpKaiser)
                throw new ArgumentException($"beta applies only to {nameof(ResamplingMethod.SincInterpKaiser)}, got beta {b} with {resampling_method}", nameof(beta));
            Check.NonNegative(b, nameof(beta));
        }
    }

    internal static void CheckWaveform(Tensor waveform, string name)
    {
        ArgumentNullException.ThrowIfNull(waveform, name);
        if (!waveform.is_floating_point() || waveform.is_complex())
            throw new ArgumentException($"{name} must be a real floating-point signal, got {waveform.dtype}", name);
        if (waveform.dim() < 1)
            throw new ArgumentException($"{name} must be (..., time), got a scalar", name);
    }
}
