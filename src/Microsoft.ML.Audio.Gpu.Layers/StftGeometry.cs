namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// The framing geometry every STFT-family layer and option class shares: its defaults (window = FFT length, hop =
/// window / 4) and rules (all positive, window ≤ FFT length), written once, for the layers' argument names and the ML.NET options'.
/// </summary>
internal readonly record struct StftGeometry(long FftLength, long WindowLength, long HopLength)
{
    /// <summary>Resolves and checks the layer arguments <c>n_fft</c>, <c>win_length</c>, <c>hop_length</c>; a window
    /// longer than the FFT is reported on <c>n_fft</c>, as torch.stft does.</summary>
    public static StftGeometry Of(long n_fft, long? win_length, long? hop_length)
    {
        long window = CheckWindow(n_fft, win_length ?? n_fft);
        return new(n_fft, window, Check.Positive(hop_length ?? DefaultHop(window), nameof(hop_length)));
    }

    /// <summary>Resolves and checks the ML.NET options <c>FftLength</c>, <c>WindowLength</c>, <c>HopLength</c>; a window
    /// longer than the FFT is reported on <c>WindowLength</c>, the option a user sets last.</summary>
    public static StftGeometry OfOptions(int fftLength, int? windowLength, int? hopLength)
    {
        Check.Positive(fftLength, "FftLength");
        long window = Check.Positive(windowLength ?? fftLength, "WindowLength");
        if (window > fftLength)
            throw new ArgumentOutOfRangeException("WindowLength", window, $"WindowLength must be at most FftLength ({fftLength}), got: {window}");
        return new(fftLength, window, Check.Positive(hopLength ?? DefaultHop(window), "HopLength"));
    }

    /// <summary>The default hop for a window: a quarter of it (librosa and Kapre), at least 1.</summary>
    public static long DefaultHop(long windowLength) => Math.Max(1, windowLength / LayerDefaults.HopDivisor);

    /// <summary>Checks that both lengths are positive and the window fits in the FFT; returns the window length.</summary>
    public static long CheckWindow(long n_fft, long win_length)
    {
        Check.Positive(n_fft);
        Check.Positive(win_length);
        return win_length <= n_fft ? win_length
            : throw new ArgumentOutOfRangeException(nameof(n_fft), n_fft, $"n_fft must be at least win_length ({win_length}), got: {n_fft}");
    }
}
