// Framing, energy and mu-law companding. Framing and energy follow Kapre's Frame and Energy (kapre/signal.py, MIT;
// tf.signal.frame, Apache-2.0); mu-law follows torchaudio.functional 0.13 (mu_law_encoding, mu_law_decoding;
// BSD-2-Clause). No code was copied.

namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class Functional
{
    /// <summary>
    /// Cuts the last dimension into frames of <paramref name="frame_length"/> samples, <paramref name="hop_length"/> apart
    /// (Kapre <c>Frame</c>, tf.signal.frame): frame <c>t</c> holds samples <c>[t · hop, t · hop + frame_length)</c>.
    /// </summary>
    /// <param name="input">Signal <c>(..., time)</c>.</param>
    /// <param name="frame_length">Samples per frame; positive.</param>
    /// <param name="hop_length">Samples between frame starts; positive.</param>
    /// <param name="pad_end">False (Kapre's default): only whole frames, <c>1 + (time − frame_length) / hop</c> of them
    /// (none for a shorter signal). True: <c>ceil(time / hop)</c> frames, the last ones completed with
    /// <paramref name="pad_value"/>.</param>
    /// <param name="pad_value">Fill for <paramref name="pad_end"/>. Default 0.</param>
    /// <returns><c>(..., frames, frame_length)</c>: a strided view of the (padded) signal, not a copy.</returns>
    public static Tensor frame(Tensor input, long frame_length, long hop_length, bool pad_end = false, double pad_value = 0)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.dim() < 1) throw new ArgumentException("input must have a time dimension, got a scalar", nameof(input));
        Check.Positive(frame_length);
        Check.Positive(hop_length);
        Check.Finite(pad_value);
        long length = input.shape[^1];
        long frames = pad_end ? (length + hop_length - 1) / hop_length
                              : length >= frame_length ? 1 + (length - frame_length) / hop_length : 0;
        long[] shape = [.. input.shape[..^1], frames, frame_length];
        if (frames == 0) return empty(shape, input.dtype, input.device);
        using var scope = NewDisposeScope();
        var x = input;
        long needed = (frames - 1) * hop_length + frame_length;
        if (needed > length) x = nn.functional.pad(x, [0, needed - length], PaddingModes.Constant, pad_value);
        else if (needed < length) x = x.narrow(-1, 0, needed);
        return x.unfold(-1, frame_length, hop_length).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Energy per frame, scaled to a reference duration (Kapre <c>Energy</c>):
    /// <c>Σ x² · ref_duration / (frame_length / sample_rate)</c> over each frame of <see cref="frame"/>.
    /// </summary>
    /// <param name="input">Signal <c>(..., time)</c>.</param>
    /// <param name="sample_rate">Sample rate in Hz; positive.</param>
    /// <param name="ref_duration">Duration in seconds the energy is normalised to; positive. Kapre's default 0.1.</param>
    /// <param name="frame_length">Samples per frame.</param>
    /// <param name="hop_length">Samples between frame starts.</param>
    /// <param name="pad_end">Complete the last frames with <paramref name="pad_value"/> (see <see cref="frame"/>).</param>
    /// <param name="pad_value">Fill for <paramref name="pad_end"/>.</param>
    /// <returns><c>(..., frames)</c>.</returns>
    public static Tensor energy(Tensor input, double sample_rate, double ref_duration, long frame_length, long hop_length,
        bool pad_end = false, double pad_value = 0)
    {
        Check.Positive(sample_rate);
        Check.Positive(ref_duration);
        using var scope = NewDisposeScope();
        var frames = frame(input, frame_length, hop_length, pad_end, pad_value);
        using var scale = (ref_duration * sample_rate / frame_length).ToScalar();
        return frames.pow(HeldScalars.Two).sum(-1).mul(scale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mu-law companding and quantisation (ITU-T G.711's curve; torchaudio.functional.mu_law_encoding):
    /// <c>floor((sign(x) ln(1 + μ|x|) / ln(1 + μ) + 1) / 2 · μ + 0.5)</c> with <c>μ = quantization_channels − 1</c>.
    /// </summary>
    /// <param name="x">Signal in [-1, 1], any shape, floating point; values beyond are not clipped (as torchaudio).</param>
    /// <param name="quantization_channels">Number of codes; at least 2. Default 256.</param>
    /// <returns>Codes in <c>[0, quantization_channels − 1]</c> for input in [-1, 1], int64, same shape.</returns>
    public static Tensor mu_law_encoding(Tensor x, long quantization_channels = 256)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!x.is_floating_point() || x.is_complex())
            throw new ArgumentException($"x must be a real floating-point signal, got {x.dtype}", nameof(x));
        double mu = MuLawMu(quantization_channels);
        using var scope = NewDisposeScope();
        // The same operations, in the same order and type, as torchaudio, so that float32 codes agree exactly.
        using var muScalar = mu.ToScalar();
        using var half = 0.5.ToScalar();
        using var one = 1.0.ToScalar();
        using var two = 2.0.ToScalar();
        // log(1 + μ) in the signal's type, as torchaudio, but as a CPU zero-dimensional tensor: libtorch takes it as a
        // scalar beside a tensor on any device, so no value is uploaded per call.
        using var logMu = tensor(mu, x.dtype).log1p();
        var companded = x.sign().mul(x.abs().mul(muScalar).log1p()).div(logMu);
        return companded.add(one, HeldScalars.One).div(two).mul(muScalar).add(half, HeldScalars.One).to(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Mu-law expansion of codes, the inverse of <see cref="mu_law_encoding"/> up to quantisation
    /// (torchaudio.functional.mu_law_decoding): <c>sign(y) ((1 + μ)^|y| − 1) / μ</c> with <c>y = 2 code / μ − 1</c>.
    /// </summary>
    /// <param name="x_mu">Codes, any shape: integer (decoded in float32) or floating point.</param>
    /// <param name="quantization_channels">Number of codes; at least 2. Default 256.</param>
    /// <returns>Signal in [-1, 1], same shape.</returns>
    public static Tensor mu_law_decoding(Tensor x_mu, long quantization_channels = 256)
    {
        ArgumentNullException.ThrowIfNull(x_mu);
        if (x_mu.is_complex() || x_mu.dtype == ScalarType.Bool)
            throw new ArgumentException($"x_mu must hold integer or real codes, got {x_mu.dtype}", nameof(x_mu));
        double mu = MuLawMu(quantization_channels);
        using var scope = NewDisposeScope();
        var codes = x_mu.is_floating_point() ? x_mu : x_mu.to(ScalarType.Float32);
        using var muScalar = mu.ToScalar();
        using var one = 1.0.ToScalar();
        using var two = 2.0.ToScalar();
        using var logMu = tensor(mu, codes.dtype).log1p(); // on the CPU, a scalar to libtorch (see mu_law_encoding)
        var y = codes.div(muScalar).mul(two).sub(one);
        return y.sign().mul(y.abs().mul(logMu).exp().sub(one)).div(muScalar).MoveToOuterDisposeScope();
    }

    private static double MuLawMu(long quantization_channels)
    {
        if (quantization_channels < 2)
            throw new ArgumentOutOfRangeException(nameof(quantization_channels), quantization_channels,
                $"quantization_channels must be at least 2, got: {quantization_channels}");
        return quantization_channels - 1.0;
    }
}
