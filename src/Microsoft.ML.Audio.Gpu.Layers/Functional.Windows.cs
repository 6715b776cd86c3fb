// Windows beyond those of WindowType: Kaiser (torch.kaiser_window), Kaiser-Bessel-derived
// (scipy.signal.windows.kaiser_bessel_derived; Princen-Bradley, as in AAC) and Vorbis (the Vorbis I specification,
// section 4.3.1). Written from the formulas; no code was copied.

namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class Functional
{
    /// <summary>
    /// Kaiser window <c>I0(β √(1 − (2n / (M − 1) − 1)²)) / I0(β)</c> (torch.kaiser_window, numpy.kaiser), computed in
    /// float64 and rounded once to <paramref name="dtype"/>.
    /// </summary>
    /// <param name="window_length">Samples; positive.</param>
    /// <param name="periodic">True (default, as torch) for the DFT-even window: the first <paramref name="window_length"/>
    /// samples of the symmetric window of <c>window_length + 1</c>; false for the symmetric window.</param>
    /// <param name="beta">Shape parameter β ≥ 0: 0 is rectangular, larger values trade main-lobe width for lower side
    /// lobes. Default 12 (torch's default).</param>
    /// <param name="dtype">Floating-point type; default float32.</param>
    /// <param name="device">Device; default CPU.</param>
    /// <returns>A 1-D tensor of <paramref name="window_length"/> samples.</returns>
    public static Tensor kaiser_window(long window_length, bool periodic = true, double beta = 12.0, ScalarType? dtype = null, Device? device = null)
    {
        Check.Positive(window_length);
        Check.NonNegative(beta);
        // One sample is [1] whether periodic or not, as torch.kaiser_window returns it.
        return WindowTensor(KaiserValues(window_length, periodic && window_length > 1 ? window_length + 1 : window_length, beta), dtype, device);
    }

    /// <summary>
    /// Kaiser-Bessel-derived window (scipy.signal.windows.kaiser_bessel_derived, the AAC/MDCT window): the square root of
    /// the running sum of a Kaiser window of <c>N / 2 + 1</c> samples and shape <paramref name="beta"/>, normalised by its
    /// total and mirrored. It is symmetric by definition and power-complementary: <c>w[n]² + w[n + N/2]² = 1</c>.
    /// </summary>
    /// <param name="window_length">Samples <c>N</c>; positive and even.</param>
    /// <param name="beta">Shape β ≥ 0 of the underlying Kaiser window, as scipy takes it (AAC uses <c>β = 4π</c> for long
    /// blocks and <c>6π</c> for short ones).</param>
    /// <param name="dtype">Floating-point type; default float32.</param>
    /// <param name="device">Device; default CPU.</param>
    /// <returns>A 1-D tensor of <paramref name="window_length"/> samples.</returns>
    public static Tensor kbd_window(long window_length, double beta, ScalarType? dtype = null, Device? device = null)
    {
        Check.Positive(window_length);
        if (window_length % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(window_length), window_length, $"window_length must be even for a Kaiser-Bessel-derived window, got: {window_length}");
        Check.NonNegative(beta);
        long half = window_length / 2;
        var kaiser = KaiserValues(half + 1, half + 1, beta);
        var cumulative = new double[half + 1];
        double sum = 0;
        for (long n = 0; n <= half; n++) cumulative[n] = sum += kaiser[n];
        var w = new double[window_length];
        for (long n = 0; n < half; n++)
            w[n] = w[window_length - 1 - n] = Math.Sqrt(cumulative[n] / sum);
        return WindowTensor(w, dtype, device);
    }

    /// <summary>
    /// Vorbis window <c>sin(π/2 · sin²(π (n + 0.5) / N))</c> (the Vorbis I specification; power-complementary:
    /// <c>w[n]² + w[n + N/2]² = 1</c> for even <c>N</c>, so it reconstructs perfectly at 50 % overlap).
    /// </summary>
    /// <param name="window_length">Samples <c>N</c>; positive.</param>
    /// <param name="dtype">Floating-point type; default float32.</param>
    /// <param name="device">Device; default CPU.</param>
    /// <returns>A 1-D tensor of <paramref name="window_length"/> samples.</returns>
    public static Tensor vorbis_window(long window_length, ScalarType? dtype = null, Device? device = null)
    {
        Check.Positive(window_length);
        var w = new double[window_length];
        for (long n = 0; n < window_length; n++)
        {
            double s = Math.Sin(Math.PI * (n + 0.5) / window_length);
            w[n] = Math.Sin(Math.PI / 2 * s * s);
        }
        return WindowTensor(w, dtype, device);
    }

    /// <summary>The first <paramref name="count"/> samples of the symmetric Kaiser window of <paramref name="size"/> samples.</summary>
    private static double[] KaiserValues(long count, long size, double beta)
    {
        var w = new double[count];
        if (size == 1)
        {
            w[0] = 1.0;
            return w;
        }
        double alpha = (size - 1) / 2.0;
        double norm = BesselI0(beta);
        for (long n = 0; n < count; n++)
        {
            double r = (n - alpha) / alpha;
            w[n] = BesselI0(beta * Math.Sqrt(Math.Max(0.0, 1.0 - r * r))) / norm;
        }
        return w;
    }

    /// <summary>Modified Bessel function of the first kind, order 0: the power series Σ ((x/2)^k / k!)², summed until its
    /// terms no longer change the total (all terms are positive, so there is no cancellation).</summary>
    internal static double BesselI0(double x)
    {
        double quarterSquare = x * x / 4.0, term = 1.0, sum = 1.0;
        for (int k = 1; k < 1000; k++)
        {
            term *= quarterSquare / ((double)k * k);
            double next = sum + term;
            if (next == sum) break;
            sum = next;
        }
        return sum;
    }

    private static Tensor WindowTensor(double[] values, ScalarType? dtype, Device? device)
    {
        var type = dtype ?? ScalarType.Float32;
        if (type is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"dtype must be a floating-point type, got {type}", nameof(dtype));
        using var w = tensor(values, [values.LongLength], ScalarType.Float64);
        return w.to(type, device ?? CPU);
    }
}
