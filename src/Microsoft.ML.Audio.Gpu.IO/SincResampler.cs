using System.Numerics;
using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Band-limited streaming resampler: a Kaiser-windowed sinc evaluated at exact rational positions (polyphase).
/// </summary>
/// <remarks>
/// <para>Output frame <c>n</c> is the input at time <c>n / outRate</c>: input position <c>t = n · inRate / outRate</c>,
/// computed exactly in integers (no drift over long files). Frames before the first input frame and after the last
/// are zeros. <c>y[n] = Σ x[j] · h(t − j)</c> over the <see cref="Taps"/> input frames around <c>t</c>.</para>
/// <para>The kernel is an ideal low-pass at <see cref="Rolloff"/> × the lower Nyquist frequency, windowed by a Kaiser
/// window (β = <see cref="KaiserBeta"/>) to <see cref="ZeroCrossings"/> zero crossings on each side, and normalised
/// so that each phase has unit gain at DC. It has zero phase: no delay to compensate.</para>
/// <para>When the rates reduce to <c>L / M</c> with a small <c>L</c> (44.1 kHz → 16 kHz is 160 / 441), the
/// <c>L</c> phases are computed once per decode; otherwise each output frame's weights are computed on the fly from
/// the same kernel table.</para>
/// </remarks>
internal sealed class SincResampler
{
    /// <summary>Cutoff as a fraction of the lower of the two Nyquist frequencies (the centre of the transition band).</summary>
    internal const double Rolloff = 0.95;

    /// <summary>Zero crossings of the sinc kept on each side: sets the transition band's width.</summary>
    internal const int ZeroCrossings = 64;

    /// <summary>Kaiser window shape: β = 10 gives about 100 dB of stopband attenuation.</summary>
    internal const double KaiserBeta = 10.0;

    /// <summary>Largest phase bank precomputed, in weights (4 MB).</summary>
    internal const int MaxBankWeights = 1 << 20;

    private const int TableResolution = 1024; // kernel samples per zero crossing, linearly interpolated

    private static readonly double[] KernelTable = BuildKernelTable();

    private readonly int channels;
    private readonly long up;      // L: output rate / gcd
    private readonly long down;    // M: input rate / gcd
    private readonly int half;     // H: taps on each side of t
    private readonly double rho;   // cutoff relative to the input Nyquist frequency
    private readonly float[]? bank;
    private readonly float[] weights;
    private readonly double[] scratch;

    private float[][] history;     // per channel: input frames [historyStart, historyStart + historyCount)
    private long historyStart;
    private int historyCount;
    private long nextOutput;
    private long nextPosition;     // floor(nextOutput · M / L)
    private long nextPhase;        // (nextOutput · M) mod L

    /// <summary>Prepares a resampler for <paramref name="channels"/> planar channels, written in blocks of about
    /// <paramref name="blockFrames"/> frames.</summary>
    public SincResampler(int channels, int inputRate, int outputRate, int blockFrames = 4096)
    {
        this.channels = channels;
        long g = (long)BigInteger.GreatestCommonDivisor(inputRate, outputRate);
        up = outputRate / g;
        down = inputRate / g;
        rho = Rolloff * Math.Min(1.0, (double)outputRate / inputRate);
        half = (int)Math.Ceiling(ZeroCrossings / rho);
        Taps = 2 * half;
        weights = new float[Taps];
        scratch = new double[Taps];
        if (up * Taps <= MaxBankWeights)
        {
            bank = new float[up * Taps];
            for (long phase = 0; phase < up; phase++)
                ComputeWeights(phase, bank.AsSpan((int)(phase * Taps), Taps));
        }
        // H − 1 zeros before the first frame: the window of output 0 starts at input frame −(H − 1).
        history = new float[channels][];
        for (int c = 0; c < channels; c++)
            history[c] = new float[Taps + blockFrames];
        historyStart = -(half - 1);
        historyCount = half - 1;
    }

    /// <summary>Input frames weighted per output frame (2 × the filter's half-length in input frames).</summary>
    public int Taps { get; }

    /// <summary>True when the phases were precomputed (small <c>L</c>); false when weights are computed per frame.</summary>

    /// <summary>
    /// Output length for a whole input: <c>round(inputFrames · outputRate / inputRate)</c>, halves rounded up,
    /// computed exactly in integers.
    /// </summary>
    public static long OutputLength(long inputFrames, int inputRate, int outputRate)
        => (long)(((Int128)inputFrames * outputRate + inputRate / 2) / inputRate);

    /// <summary>Input frames needed for the first <paramref name="outputFrames"/> output frames: the last one's window end.</summary>
    public long InputFramesNeeded(long outputFrames)
        => outputFrames == 0 ? 0 : (long)((Int128)(outputFrames - 1) * down / up) + half + 1;

    /// <summary>Adds <paramref name="count"/> planar input frames and writes every output frame (below
    /// <paramref name="maxOutput"/>) whose window is now complete.</summary>
    public void Write(float[][] input, int count, PlanarBuilder output, long maxOutput)
    {
        Append(count);
        for (int c = 0; c < channels; c++)
            Array.Copy(input[c], 0, history[c], historyCount - count, count);
        Produce(output, maxOutput);
    }

    /// <summary>At the end of the input: treats the frames after it as zeros and writes the output up to
    /// <paramref name="maxOutput"/> (exclusive).</summary>
    public void Finish(PlanarBuilder output, long maxOutput)
    {
        if (maxOutput <= nextOutput)
            return;
        long lastPosition = (long)((Int128)(maxOutput - 1) * down / up);
        long zeros = lastPosition + half + 1 - (historyStart + historyCount);
        if (zeros > 0)
        {
            Append((int)zeros);
            for (int c = 0; c < channels; c++)
                Array.Clear(history[c], historyCount - (int)zeros, (int)zeros);
        }
        Produce(output, maxOutput);
    }

    /// <summary>Makes room for <paramref name="count"/> more frames at the end of the history.</summary>
    private void Append(int count)
    {
        int needed = historyCount + count;
        if (needed > history[0].Length)
        {
            int capacity = Math.Max(needed, 2 * history[0].Length);
            for (int c = 0; c < channels; c++)
                Array.Resize(ref history[c], capacity);
        }
        historyCount = needed;
    }

    private void Produce(PlanarBuilder output, long maxOutput)
    {
        // Output n needs input frames up to floor(n·M/L) + H; the last one present is historyStart + historyCount − 1.
        long lastInput = historyStart + historyCount - 1 - half;
        if (lastInput < 0)
            return;
        long end = Math.Min(maxOutput, (long)(((Int128)(lastInput + 1) * up - 1) / down) + 1);
        if (end <= nextOutput)
            return;
        output.EnsureCapacity(end);

        long stepPosition = down / up, stepPhase = down % up;
        long position = nextPosition, phase = nextPhase;
        for (long n = nextOutput; n < end; n++)
        {
            ReadOnlySpan<float> w;
            if (bank is not null)
            {
                w = bank.AsSpan((int)(phase * Taps), Taps);
            }
            else
            {
                ComputeWeights(phase, weights);
                w = weights;
            }
            int offset = (int)(position - half + 1 - historyStart);
            for (int c = 0; c < channels; c++)
                output.Channel(c)[(int)n] = Dot(w, history[c].AsSpan(offset, Taps));

            position += stepPosition;
            phase += stepPhase;
            if (phase >= up)
            {
                phase -= up;
                position++;
            }
        }
        nextOutput = end;
        nextPosition = position;
        nextPhase = phase;
        output.Frames = (int)end;

        // Drop the frames no later output needs: the next window starts at floor(next·M/L) − H + 1.
        long drop = Math.Min(position - half + 1 - historyStart, historyCount);
        if (drop > 0)
        {
            for (int c = 0; c < channels; c++)
                Array.Copy(history[c], (int)drop, history[c], 0, historyCount - (int)drop);
            historyStart += drop;
            historyCount -= (int)drop;
        }
    }

    /// <summary>Weights of the input frames <c>floor(t) − H + 1 … floor(t) + H</c> for <c>t</c> with fractional part
    /// <c>phase / L</c>, normalised to sum 1.</summary>
    private void ComputeWeights(long phase, Span<float> destination)
    {
        double frac = (double)phase / up;
        double sum = 0;
        Span<double> w = scratch;
        for (int k = 0; k < destination.Length; k++)
        {
            double distance = Math.Abs(k - half + 1 - frac); // |j − t| in input frames
            w[k] = Kernel(distance * rho);
            sum += w[k];
        }
        for (int k = 0; k < destination.Length; k++)
            destination[k] = (float)(w[k] / sum);
    }

    /// <summary>Windowed sinc at <paramref name="u"/> zero crossings from its centre (u ≥ 0), by table lookup.</summary>
    private static double Kernel(double u)
    {
        double x = u * TableResolution;
        if (x >= ZeroCrossings * TableResolution)
            return 0;
        int i = (int)x;
        double f = x - i;
        return KernelTable[i] + f * (KernelTable[i + 1] - KernelTable[i]);
    }

    private static double[] BuildKernelTable()
    {
        var table = new double[ZeroCrossings * TableResolution + 2]; // last two stay 0: the window ends there
        double i0Beta = BesselI0(KaiserBeta);
        for (int i = 0; i < ZeroCrossings * TableResolution; i++)
        {
            double u = (double)i / TableResolution;
            double sinc = i == 0 ? 1.0 : Math.Sin(Math.PI * u) / (Math.PI * u);
            double r = u / ZeroCrossings;
            table[i] = sinc * BesselI0(KaiserBeta * Math.Sqrt(1 - r * r)) / i0Beta;
        }
        return table;
    }

    /// <summary>Modified Bessel function of the first kind, order 0 (power series; converges fast for x ≤ 20).</summary>
    private static double BesselI0(double x)
    {
        double sum = 1, term = 1, q = x * x / 4;
        for (int k = 1; k < 100 && term > 1e-17 * sum; k++)
        {
            term *= q / ((double)k * k);
            sum += term;
        }
        return sum;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var acc = Vector<float>.Zero;
            for (int k = 0; k < va.Length; k++)
                acc += va[k] * vb[k];
            sum = Vector.Sum(acc);
            i = va.Length * Vector<float>.Count;
        }
        for (; i < a.Length; i++)
            sum += a[i] * b[i];
        return sum;
    }
}
