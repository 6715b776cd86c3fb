// Signal reconstruction from spectra: inverse STFT and Griffin-Lim. Semantics follow torch.istft and
// torchaudio.functional.griffinlim 0.13 (pytorch/audio, BSD-2-Clause; Griffin & Lim 1984, Perraudin et al. 2013 for
// the momentum). No code was copied.

namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class Functional
{
    /// <summary>Smallest window-square sum the overlap-add may divide by (torch.istft's NOLA threshold).</summary>
    private const double NolaFloor = 1e-11;

    /// <summary>
    /// Inverse short-time Fourier transform of a centred, onesided, unnormalised spectrum (torch.istft with
    /// <c>center=True</c>; the inverse of <see cref="stft"/> with <see cref="FramePadding.Center"/>).
    /// </summary>
    /// <remarks>
    /// Frames are inverse-FFT'd, windowed and overlap-added, then divided by the overlap-added squared window, which is
    /// exact at the edges as well as in the middle; the <c>n_fft / 2</c> samples of centring padding are removed from
    /// each end. Gradients flow to <paramref name="input"/>.
    /// </remarks>
    /// <param name="input">Complex spectrum <c>(..., n_fft / 2 + 1, frames)</c>, e.g. from <see cref="stft"/>.</param>
    /// <param name="n_fft">FFT length.</param>
    /// <param name="hop_length">Samples between frame starts.</param>
    /// <param name="window">Window of <paramref name="n_fft"/> samples, as the analysis used (a shorter window
    /// zero-padded in the middle, see <see cref="window(WindowType, long, long?, FramePadding, ScalarType?, Device?)"/>);
    /// moved to the input's device and type if needed.</param>
    /// <param name="length">Samples of the result: the end is trimmed or zero-padded to it. Default
    /// <c>hop_length · (frames − 1)</c>; pass the original length to undo <see cref="stft"/> exactly.</param>
    /// <returns>Real signal <c>(..., time)</c> in the real type of the input (float32 for complex64).</returns>
    /// <exception cref="ArgumentException">The input is not a complex spectrum of <c>n_fft / 2 + 1</c> bins, the
    /// window does not have <paramref name="n_fft"/> samples, or its squares overlap-added at <paramref name="hop_length"/>
    /// vanish somewhere (the NOLA condition), so the signal cannot be recovered.</exception>
    public static Tensor istft(Tensor input, long n_fft, long hop_length, Tensor window, long? length = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        CheckSpectrum(input, n_fft, nameof(input));
        CheckSynthesisWindow(window, n_fft, hop_length);
        if (length is long l && l < 0) throw new ArgumentOutOfRangeException(nameof(length), l, $"length must not be negative, got: {l}");
        return IstftCore(input, n_fft, hop_length, window, length);
    }

    /// <summary>
    /// Griffin-Lim phase reconstruction with momentum (torchaudio.functional.griffinlim; Kapre has no equivalent):
    /// starting from a phase of 0 (or random), alternates <see cref="istft"/> and <see cref="stft"/>, keeping the
    /// given magnitude and the phase of the rebuilt spectrum.
    /// </summary>
    /// <param name="specgram">Magnitude (<paramref name="power"/> 1) or power (2) spectrogram
    /// <c>(..., n_fft / 2 + 1, frames)</c>, real and non-negative.</param>
    /// <param name="window">Window of <paramref name="n_fft"/> samples used by the analysis and the synthesis.</param>
    /// <param name="n_fft">FFT length.</param>
    /// <param name="hop_length">Samples between frame starts.</param>
    /// <param name="power">Exponent of the spectrogram: 1 for magnitude, 2 for power (torchaudio's default).</param>
    /// <param name="n_iter">Iterations; 32 in torchaudio's <c>GriffinLim</c>.</param>
    /// <param name="momentum">Fast Griffin-Lim momentum in <c>[0, 1)</c>; 0 is the original algorithm, 0.99
    /// torchaudio's default.</param>
    /// <param name="length">Samples of the result; default <c>hop_length · (frames − 1)</c>.</param>
    /// <param name="rand_init">Start from a random phase (torchaudio's default) instead of 0. Default false, so
    /// that the result is deterministic.</param>
    /// <param name="generator">Random generator for <paramref name="rand_init"/>; default the global one.</param>
    /// <returns>Real signal <c>(..., time)</c>.</returns>
    public static Tensor griffinlim(Tensor specgram, Tensor window, long n_fft, long hop_length, double power = 2.0,
        long n_iter = 32, double momentum = 0.99, long? length = null, bool rand_init = false, Generator? generator = null)
        => GriffinLimCore(specgram, window, n_fft, hop_length, power, n_iter, momentum, length, rand_init, generator, checkWindow: true);

    /// <summary><see cref="griffinlim"/>; <paramref name="checkWindow"/> false skips the NOLA check of a window
    /// already checked (the module's, at construction): the check reads the window on the host, a device
    /// synchronisation per call.</summary>
    internal static Tensor GriffinLimCore(Tensor specgram, Tensor window, long n_fft, long hop_length, double power,
        long n_iter, double momentum, long? length, bool rand_init, Generator? generator, bool checkWindow)
    {
        ArgumentNullException.ThrowIfNull(specgram);
        ArgumentNullException.ThrowIfNull(window);
        if (!specgram.is_floating_point() || specgram.is_complex())
            throw new ArgumentException($"specgram must be a real magnitude or power spectrogram, got {specgram.dtype}", nameof(specgram));
        CheckBins(specgram, n_fft, nameof(specgram));
        if (checkWindow) CheckSynthesisWindow(window, n_fft, hop_length);
        Check.Positive(power);
        if (n_iter < 0) throw new ArgumentOutOfRangeException(nameof(n_iter), n_iter, $"n_iter must not be negative, got: {n_iter}");
        if (!(momentum >= 0 && momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"momentum must be in [0, 1), got: {momentum}");
        long frames = specgram.shape[^1];
        long outLength = length ?? hop_length * (frames - 1);
        if (outLength < 0) throw new ArgumentOutOfRangeException(nameof(length), outLength, $"length must not be negative, got: {outLength}");
        if (1 + outLength / hop_length != frames)
            throw new ArgumentOutOfRangeException(nameof(length), outLength,
                $"length must give the spectrogram's {frames} frames (1 + length / hop_length), got: {outLength}");
        if (n_iter > 0 && outLength <= n_fft / 2)
            throw new ArgumentException($"specgram has {frames} frames, a signal of {outLength} samples; the reflect padding of the " +
                $"re-analysis needs more than n_fft / 2 = {n_fft / 2}", nameof(specgram));

        using var scope = NewDisposeScope();
        var leading = specgram.shape[..^2];
        var mag = specgram.reshape(-1, specgram.shape[^2], frames);
        if (power != 1.0)
        {
            using var inverse = (1.0 / power).ToScalar();
            mag = mag.pow(inverse);
        }
        var complexType = mag.dtype == ScalarType.Float64 ? ScalarType.ComplexFloat64 : ScalarType.ComplexFloat32;
        var w = window.dtype == mag.dtype && Devices.SameDevice(window.device, mag.device) ? window : window.to(mag.dtype, mag.device);
        double m = momentum / (1 + momentum); // torchaudio's form of the momentum
        using var mScalar = m.ToScalar();
        using var tiny = 1e-16.ToScalar(); // torchaudio's floor under |X| when normalising

        // The two tensors carried between iterations are detached from the scopes and disposed by hand, so that
        // memory stays at one iteration's worth whatever n_iter is.
        Tensor angles = (rand_init ? rand(mag.shape, complexType, mag.device, generator: generator) : ones(mag.shape, complexType, mag.device))
            .DetachFromDisposeScope();
        Tensor? previous = null;
        try
        {
            for (long i = 0; i < n_iter; i++)
            {
                using var step = NewDisposeScope();
                var inverse = IstftCore(mag.mul(angles), n_fft, hop_length, w, outLength);
                var rebuilt = torch.stft(inverse, n_fft, hop_length, n_fft, w, center: true, pad_mode: PaddingModes.Reflect,
                    normalized: false, onesided: true, return_complex: true);
                var next = previous is null || m == 0 ? rebuilt : rebuilt.sub(previous.mul(mScalar));
                next = next.div(next.abs().add(tiny, HeldScalars.One));
                next.DetachFromDisposeScope();
                rebuilt.DetachFromDisposeScope();
                angles.Dispose();
                previous?.Dispose();
                angles = next;
                previous = rebuilt;
            }
            var waveform = IstftCore(mag.mul(angles), n_fft, hop_length, w, outLength);
            long[] shape = [.. leading, waveform.shape[^1]];
            return waveform.reshape(shape).MoveToOuterDisposeScope();
        }
        finally
        {
            angles.Dispose();
            previous?.Dispose();
        }
    }

    /// <summary>torch.istft over any leading dimensions, without argument checks.</summary>
    internal static Tensor IstftCore(Tensor input, long n_fft, long hop_length, Tensor window, long? length)
    {
        using var scope = NewDisposeScope();
        var leading = input.shape[..^2];
        var x = input.reshape(-1, input.shape[^2], input.shape[^1]);
        var real = input.dtype == ScalarType.ComplexFloat64 ? ScalarType.Float64 : ScalarType.Float32;
        var w = window.dtype == real && Devices.SameDevice(window.device, input.device) ? window : window.to(real, input.device);
        var y = torch.istft(x, n_fft, hop_length, n_fft, w, center: true, normalized: false, onesided: true,
            length: length ?? -1, return_complex: false);
        long[] shape = [.. leading, y.shape[^1]];
        return y.reshape(shape).MoveToOuterDisposeScope();
    }

    /// <summary>The centred synthesis window of an inverse-STFT layer, checked for NOLA at the hop (disposed when it fails).</summary>
    internal static Tensor SynthesisWindow(WindowType window, long win_length, long n_fft, long hop_length, ScalarType? dtype, Device? device)
    {
        var w = Functional.window(window, win_length, n_fft, FramePadding.Center, dtype, device);
        try
        {
            CheckSynthesisWindow(w, n_fft, hop_length);
            return w;
        }
        catch
        {
            w.Dispose();
            throw;
        }
    }

    /// <summary>Throws unless <paramref name="window"/> has <paramref name="n_fft"/> samples and satisfies NOLA at the hop.</summary>
    internal static void CheckSynthesisWindow(Tensor window, long n_fft, long hop_length)
    {
        Check.Positive(n_fft);
        Check.Positive(hop_length);
        if (window.dim() != 1 || window.shape[0] != n_fft)
            throw new ArgumentException($"window must be 1-D with n_fft = {n_fft} samples, got shape [{string.Join(", ", window.shape)}]", nameof(window));
        if (hop_length > n_fft)
            throw new ArgumentOutOfRangeException(nameof(hop_length), hop_length,
                $"hop_length must be at most n_fft ({n_fft}) for the frames to cover the signal, got: {hop_length}");
        if (!window.is_floating_point())
            throw new ArgumentException($"window must be real floating point, got {window.dtype}", nameof(window));
        // Away from the ends every output sample n is covered by the frames that hold it at offsets n mod hop + k·hop;
        // the division by the squared-window sum needs each residue's sum to be non-zero (torch.istft checks the
        // same on the whole output, and the ends only hold fewer of these terms for windows that vanish at their centre).
        double[] w;
        using (NewDisposeScope()) w = window.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();
        for (long r = 0; r < hop_length; r++)
        {
            double sum = 0;
            for (long k = r; k < n_fft; k += hop_length) sum += w[k] * w[k];
            if (sum < NolaFloor)
                throw new ArgumentException($"window fails the NOLA condition at hop_length {hop_length}: its squares overlap-added " +
                    $"are {sum:G3} at offset {r}, so those samples cannot be recovered. Use a shorter hop or another window", nameof(window));
        }
    }

    private static void CheckSpectrum(Tensor input, long n_fft, string name)
    {
        ArgumentNullException.ThrowIfNull(input, name);
        if (!input.is_complex())
            throw new ArgumentException($"{name} must be a complex spectrum, got {input.dtype}", name);
        CheckBins(input, n_fft, name);
    }

    private static void CheckBins(Tensor input, long n_fft, string name)
    {
        Check.Positive(n_fft);
        if (input.dim() < 2 || input.shape[^2] != n_fft / 2 + 1 || input.shape[^1] < 1)
            throw new ArgumentException($"{name} must be (..., n_fft / 2 + 1 = {n_fft / 2 + 1}, frames ≥ 1), got shape [{string.Join(", ", input.shape)}]", name);
    }
}
