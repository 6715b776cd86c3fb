namespace Microsoft.ML;

/// <summary>
/// Audio transforms: <c>mlContext.Transforms.Audio</c>. Decoding runs on the CPU; the spectral transforms run their
/// TorchSharp layers on the GPU when <see cref="MLContext.GpuDeviceId"/> is set (falling back to the CPU when
/// <see cref="MLContext.FallbackToCpu"/> allows).
/// </summary>
public sealed class AudioTransformsCatalog
{
    private readonly IHostEnvironment _env;

    internal AudioTransformsCatalog(TransformsCatalog catalog)
        => _env = ((IInternalCatalog)Contracts.CheckRef(catalog, nameof(catalog))).Environment;

    /// <summary>
    /// Create a <see cref="LoadAudioEstimator"/>, which decodes audio files (WAV; see <see cref="Microsoft.ML.Audio.Gpu.IO.AudioDecoder"/>) into
    /// samples in [-1, 1], resampled to <see cref="LoadAudioOptions.SampleRate"/>.
    /// </summary>
    /// <param name="outputColumnName">Name of the column to produce: a vector of <see cref="float"/>, <c>[samples]</c>
    /// (mono) or <c>[channels, samples]</c>, of known size when <see cref="LoadAudioOptions.DurationSeconds"/> is set.</param>
    /// <param name="inputColumnName">Name of the column of file paths (<see cref="string"/>, relative ones resolved against
    /// <see cref="LoadAudioOptions.BaseFolder"/>) or file contents (vector of <see cref="byte"/>). Null means
    /// <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Decoding settings; null uses the defaults of <see cref="LoadAudioOptions"/> (16 kHz mono, whole file).</param>
    /// <example>
    /// <code language="csharp">
    /// // Rows of file paths (a "Path" column) to 16 kHz mono audio, cropped or padded to 1 s.
    /// var load = ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { SampleRate = 16000, DurationSeconds = 1 });
    /// var audio = load.Fit(files).Transform(files); // "Audio": float[16000] per row, with a SampleRate annotation
    /// </code>
    /// </example>
    public LoadAudioEstimator LoadAudio(string outputColumnName, string? inputColumnName = null, LoadAudioOptions? options = null)
        => new(_env, outputColumnName, inputColumnName, options);

    /// <summary>
    /// Create a <see cref="GpuResampleEstimator"/>, which resamples an audio column on the GPU (band-limited sinc, as
    /// torchaudio): the device counterpart of LoadAudio's CPU resampler, for large batches.
    /// </summary>
    /// <param name="outputColumnName">Name of the column to produce: audio at <see cref="GpuResampleOptions.SampleRate"/>.</param>
    /// <param name="inputColumnName">Name of the audio column (with a SampleRate annotation, e.g. from LoadAudio at the
    /// files' own rate). Null means <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Settings; null resamples to 16 kHz with torchaudio's defaults.</param>
    /// <example>
    /// <code language="csharp">
    /// // Decode at each file's own rate (SampleRate null), then resample whole batches to 16 kHz on the device.
    /// var pipeline = ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { SampleRate = null })
    ///     .Append(ml.Transforms.Audio.GpuResample("Audio16k", "Audio", new GpuResampleOptions { SampleRate = 16000 }));
    /// </code>
    /// </example>
    public GpuResampleEstimator GpuResample(string outputColumnName, string? inputColumnName = null, GpuResampleOptions? options = null)
        => new(_env, outputColumnName, inputColumnName, options);

    /// <summary>
    /// Create a <see cref="GpuStftEstimator"/>, which computes the short-time Fourier transform (power or magnitude) of
    /// an audio column on the GPU.
    /// </summary>
    /// <param name="outputColumnName">Name of the column to produce: a vector of <see cref="float"/>, <c>[bins, frames]</c>
    /// or <c>[channels, bins, frames]</c>, row-major.</param>
    /// <param name="inputColumnName">Name of the audio column, a vector of <see cref="float"/> (<c>[samples]</c> or
    /// <c>[channels, samples]</c>, e.g. from <see cref="LoadAudio"/>). Null means <paramref name="outputColumnName"/>.</param>
    /// <param name="options">STFT settings; null uses the defaults of <see cref="GpuStftOptions"/>.</param>
    /// <example>
    /// <code language="csharp">
    /// // 25 ms windows every 10 ms at 16 kHz, FFT 512: [257 bins, frames] of power per row.
    /// var stft = ml.Transforms.Audio.GpuStft("Spectrum", "Audio", new GpuStftOptions { FftLength = 512, WindowLength = 400, HopLength = 160 });
    /// </code>
    /// </example>
    public GpuStftEstimator GpuStft(string outputColumnName, string? inputColumnName = null, GpuStftOptions? options = null)
        => new(_env, outputColumnName, inputColumnName, options);

    /// <summary>
    /// Create a <see cref="GpuMelEstimator"/>, which applies a mel filterbank to a spectrum column on the GPU.
    /// </summary>
    /// <param name="outputColumnName">Name of the column to produce: a vector of <see cref="float"/>, <c>[mels, frames]</c>
    /// or <c>[channels, mels, frames]</c>, row-major.</param>
    /// <param name="inputColumnName">Name of the spectrum column, a vector of <see cref="float"/> from <see cref="GpuStft"/>
    /// (power or magnitude). Null means <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Mel settings; null uses the defaults of <see cref="GpuMelOptions"/>, with the sample rate and
    /// FFT length taken from the input column's annotations.</param>
    /// <example>
    /// <code language="csharp">
    /// var pipeline = ml.Transforms.Audio.GpuStft("Spectrum", "Audio")
    ///     .Append(ml.Transforms.Audio.GpuMel("Mel", "Spectrum", new GpuMelOptions { MelBinCount = 64, MelScale = MelScale.Slaney }));
    /// </code>
    /// </example>
    public GpuMelEstimator GpuMel(string outputColumnName, string? inputColumnName = null, GpuMelOptions? options = null)
        => new(_env, outputColumnName, inputColumnName, options);

    /// <summary>
    /// Create a <see cref="GpuDecibelEstimator"/>, which converts a power or magnitude spectrum column to decibels on
    /// the GPU, with a dynamic range applied per row.
    /// </summary>
    /// <param name="outputColumnName">Name of the column to produce: a vector of <see cref="float"/> of the input's shape.</param>
    /// <param name="inputColumnName">Name of the spectrum column (from <see cref="GpuStft"/> or <see cref="GpuMel"/>).
    /// Null means <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Decibel settings; null uses the defaults of <see cref="GpuDecibelOptions"/> (80 dB range).</param>
    /// <example>
    /// <code language="csharp">
    /// var pipeline = ml.Transforms.Audio.GpuStft("Spectrum", "Audio")
    ///     .Append(ml.Transforms.Audio.GpuMel("Mel", "Spectrum"))
    ///     .Append(ml.Transforms.Audio.GpuDecibel("LogMel", "Mel", new GpuDecibelOptions { TopDb = 80 }));
    /// </code>
    /// </example>
    public GpuDecibelEstimator GpuDecibel(string outputColumnName, string? inputColumnName = null, GpuDecibelOptions? options = null)
        => new(_env, outputColumnName, inputColumnName, options);

    /// <summary>
    /// Create a <see cref="MelSpectrogramGpuEstimator"/>, which computes the (log-)mel spectrogram of an audio column in
    /// one fused TorchSharp module on the GPU: the same numbers as <see cref="GpuStft"/> → <see cref="GpuMel"/> →
    /// <see cref="GpuDecibel"/>, without the intermediate spectra leaving the device.
    /// </summary>
    /// <param name="outputColumnName">Name of the column to produce: a vector of <see cref="float"/>, <c>[mels, frames]</c>
    /// or <c>[channels, mels, frames]</c>, row-major.</param>
    /// <param name="inputColumnName">Name of the audio column, a vector of <see cref="float"/>. Null means
    /// <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Settings; null uses the defaults of <see cref="MelSpectrogramOptions"/>.</param>
    /// <example>
    /// <code language="csharp">
    /// // The usual speech front end: 64 log-mel bands, 25 ms windows every 10 ms, 80 dB range.
    /// var pipeline = ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { SampleRate = 16000, DurationSeconds = 1 })
    ///     .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio",
    ///         new MelSpectrogramOptions { FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 64 }));
    /// </code>
    /// </example>
    public MelSpectrogramGpuEstimator MelSpectrogramGpu(string outputColumnName, string? inputColumnName = null, MelSpectrogramOptions? options = null)
        => new(_env, outputColumnName, inputColumnName, options);

    /// <summary>
    /// Create a <see cref="MfccGpuEstimator"/>, which computes the mel-frequency cepstral coefficients of an audio
    /// column in one fused TorchSharp module on the GPU: the log-mel spectrogram of <see cref="MelSpectrogramGpu"/>
    /// followed by an orthonormal DCT-II (torchaudio's <c>MFCC</c>).
    /// </summary>
    /// <param name="outputColumnName">Name of the column to produce: a vector of <see cref="float"/>, <c>[coefficients, frames]</c>
    /// or <c>[channels, coefficients, frames]</c>, row-major.</param>
    /// <param name="inputColumnName">Name of the audio column, a vector of <see cref="float"/>. Null means
    /// <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Settings; null uses the defaults of <see cref="MfccOptions"/> (40 coefficients of 128 mel bands, 80 dB range).</param>
    /// <example>
    /// <code language="csharp">
    /// // torchaudio's MFCC defaults (FFT 400, hop 200), 13 coefficients of 40 mel bands, then any ML.NET trainer.
    /// var pipeline = ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 400, HopLength = 200, MelBinCount = 40, CoefficientCount = 13 })
    ///     .Append(ml.Transforms.Conversion.MapValueToKey("Label", "Word"))
    ///     .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "Mfcc"));
    /// </code>
    /// </example>
    public MfccGpuEstimator MfccGpu(string outputColumnName, string? inputColumnName = null, MfccOptions? options = null)
        => new(_env, outputColumnName, inputColumnName, options);

    /// <summary>
    /// Create a <see cref="SpeechEmbeddingEstimator"/>, which turns 16 kHz mono audio into embeddings of Google's pretrained
    /// speech embedding model (openWakeWord's conversion), computed on the GPU when <see cref="MLContext.GpuDeviceId"/> is set:
    /// features on which any ML.NET trainer learns spoken words from a few clips per class.
    /// </summary>
    /// <param name="outputColumnName">Name of the column to produce: a vector of <see cref="float"/>, <c>[192]</c> (mean and
    /// max of the 80 ms windows' embeddings, the default), <c>[96]</c> (mean or max) or <c>[96, windows]</c> (no pooling).</param>
    /// <param name="inputColumnName">Name of the audio column: a vector of <see cref="float"/>, 16 kHz mono (LoadAudio with
    /// SampleRate 16000). Null means <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Settings; null uses the defaults of <see cref="SpeechEmbeddingOptions"/> (mean and max, shorter
    /// clips centred in 2 s of silence).</param>
    /// <example>
    /// <code language="csharp">
    /// var pipeline = ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { SampleRate = 16000 })   // whole clips
    ///     .Append(ml.Transforms.Audio.SpeechEmbedding("Features", "Audio"))                                         // [192] each
    ///     .Append(ml.Transforms.NormalizeMeanVariance("Features"))
    ///     .Append(ml.Transforms.Conversion.MapValueToKey("Label", "Word"))
    ///     .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
    /// </code>
    /// </example>
    public SpeechEmbeddingEstimator SpeechEmbedding(string outputColumnName, string? inputColumnName = null, SpeechEmbeddingOptions? options = null)
        => new(_env, outputColumnName, inputColumnName, options);
}

/// <summary>Adds <c>Audio</c> to <see cref="TransformsCatalog"/>.</summary>
public static class AudioCatalogExtensions
{
    extension(TransformsCatalog catalog)
    {
        /// <summary>Audio transforms: loading, STFT, mel filterbank, decibels, the fused mel spectrogram and MFCC.</summary>
        public AudioTransformsCatalog Audio => new(catalog);
    }
}
