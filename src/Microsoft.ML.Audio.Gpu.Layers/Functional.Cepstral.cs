// Cepstral math: the DCT-II matrix of torchaudio.functional.create_dct (torchaudio 0.13, pytorch/audio,
// BSD-2-Clause). No code was copied; the formula is the standard DCT-II.

namespace Microsoft.ML.Audio.Gpu.Layers;

public static partial class Functional
{
    /// <summary>
    /// The DCT-II matrix that turns <paramref name="n_mels"/> log-mel bands into <paramref name="n_mfcc"/> cepstral
    /// coefficients, computed in float64 (torchaudio.functional.create_dct; scipy.fft.dct type 2).
    /// </summary>
    /// <param name="n_mfcc">Number of coefficients kept (the lowest quefrencies).</param>
    /// <param name="n_mels">Number of mel bands of the input.</param>
    /// <param name="norm"><see cref="DctNorm.Ortho"/> (default, torchaudio's and librosa's): an orthonormal basis;
    /// <see cref="DctNorm.None"/>: the unscaled DCT-II, <c>2 cos(...)</c>.</param>
    /// <param name="dtype">Type of the returned tensor; default float32.</param>
    /// <param name="device">Device of the returned tensor; default CPU.</param>
    /// <returns><c>(n_mels, n_mfcc)</c>, so that log-mel <c>(..., n_mels, time)</c> → MFCC via
    /// <see cref="apply_filterbank"/>.</returns>
    public static Tensor create_dct(long n_mfcc, long n_mels, DctNorm norm = DctNorm.Ortho, ScalarType? dtype = null, Device? device = null)
    {
        var values = create_dct_array(n_mfcc, n_mels, norm);
        using var t = tensor(values, [n_mels, n_mfcc], ScalarType.Float64);
        return t.to(dtype ?? ScalarType.Float32, device ?? CPU);
    }

    /// <summary>The matrix of <see cref="create_dct"/> as a row-major <c>[n_mels, n_mfcc]</c> array.</summary>
    public static double[] create_dct_array(long n_mfcc, long n_mels, DctNorm norm = DctNorm.Ortho)
    {
        Check.Positive(n_mfcc);
        Check.Positive(n_mels);
        Check.Defined(norm);
        var dct = new double[n_mels * n_mfcc];
        double scale = Math.Sqrt(2.0 / n_mels);
        for (long n = 0; n < n_mels; n++)
        {
            for (long k = 0; k < n_mfcc; k++)
            {
                double v = Math.Cos(Math.PI / n_mels * (n + 0.5) * k);
                // Ortho: the first row scaled by 1/sqrt(2), all by sqrt(2/N), which makes the basis orthonormal.
                dct[n * n_mfcc + k] = norm == DctNorm.None ? 2.0 * v : (k == 0 ? v / Math.Sqrt(2.0) : v) * scale;
            }
        }
        return dct;
    }
}
