[assembly: LoadableClass(typeof(MelSpectrogramGpuTransformer), null, typeof(SignatureLoadModel), MelSpectrogramGpuTransformer.UserName, MelSpectrogramGpuTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Options of <see cref="MelSpectrogramGpuEstimator"/> (<c>mlContext.Transforms.Audio.MelSpectrogramGpu</c>): the parts
/// <see cref="LogMelOptions.Stft"/>, <see cref="LogMelOptions.Mel"/> and <see cref="LogMelOptions.Decibel"/> with their
/// defaults (also settable through the flat properties of <see cref="LogMelOptions"/>), plus <see cref="ToDecibel"/>.
/// </summary>
public sealed class MelSpectrogramOptions : LogMelOptions
{
    /// <summary>Options with every default.</summary>
    public MelSpectrogramOptions()
    {
    }

    private MelSpectrogramOptions(MelSpectrogramOptions source) : base(source) => ToDecibel = source.ToDecibel;

    internal MelSpectrogramOptions(GpuStftOptions stft, GpuMelOptions mel, GpuDecibelOptions? decibel) : base(stft, mel, decibel)
        => ToDecibel = decibel is not null;

    /// <summary>Convert the mel spectrogram to decibels (a log-mel spectrogram) with the <see cref="LogMelOptions.Decibel"/>
    /// part. Default true.</summary>
    public bool ToDecibel { get; set; } = true;

    internal MelSpectrogramOptions Clone() => new(this);
}

/// <summary>
/// Fused log-mel spectrogram of an audio column: STFT → mel filterbank → decibels in one TorchSharp module
/// (<see cref="MelSpectrogram"/>) on the GPU when <see cref="MLContext.GpuDeviceId"/> is set; the intermediate spectra
/// never leave the device. Gives the same numbers as GpuStft → GpuMel → GpuDecibel.
/// Output: row-major <c>[mels, frames]</c> or <c>[channels, mels, frames]</c>.
/// </summary>
public sealed class MelSpectrogramGpuTransformer : GpuAudioTransformerBase
{
    internal const string UserName = "GPU Mel Spectrogram Transform";
    internal const string LoaderSignature = "MelSpectrogramGpu";
    private static readonly VersionInfo s_version = CurrentVersion("GPUMELSP", LoaderSignature, typeof(MelSpectrogramGpuTransformer));

    private readonly LogMelParts _parts;

    /// <summary>The settings, with the sample rate resolved (a copy).</summary>
    public MelSpectrogramOptions Options => new(_parts.Stft, _parts.Mel, _parts.Decibel);

    /// <summary>The layer the transform runs (ONNX export reads its window and filterbank).</summary>
    internal new MelSpectrogram Layer => (MelSpectrogram)Module;

    internal MelSpectrogramGpuTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName,
        GpuStftOptions stft, GpuMelOptions resolvedMel, GpuDecibelOptions? db)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(MelSpectrogramGpuTransformer)), outputColumnName, inputColumnName, stft.BatchSize)
    {
        _parts = new LogMelParts(stft, resolvedMel, db);
    }

    // SignatureLoadModel constructor.
    // *** Binary format ***
    // <base: columns and batch size>
    // <front-end parts: STFT settings, mel settings, byte 1 when converted to decibels then decibel settings,
    //  stream Filterbank.bin> (LogMelParts)
    private MelSpectrogramGpuTransformer(IHostEnvironment env, ModelLoadContext ctx) : base(env, ctx, s_version, nameof(MelSpectrogramGpuTransformer))
    {
        _parts = LogMelParts.Load(Host, ctx, RequestedBatchSize, optionalDecibels: true);
    }

    private protected override VersionInfo Version => s_version;

    private protected override void SaveSettings(ModelSaveContext ctx)
    {
        _parts.Save(ctx, optionalDecibels: true, (MelSpectrogram)Module);
    }

    private protected override string ComponentName => "MelSpectrogramGpu";

    private protected override bool InputIsSpectrum => false;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        var (frames, annotations) = _parts.Layout(Host, input, InputColumnName, nameof(MelSpectrogramOptions.SampleRate));
        return new OutputLayout(_parts.Mel.MelBinCount, frames, annotations);
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule() => _parts.CreateModule();
}

/// <summary>Estimator of <see cref="MelSpectrogramGpuTransformer"/>: the fused (log-)mel spectrogram of an audio column.</summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No |
/// | Input column data type | Vector of <xref:System.Single>: [samples] or [channels, samples] |
/// | Output column data type | Vector of <xref:System.Single>: [mels, frames] or [channels, mels, frames] |
/// | Runs on GPU | Yes, when MLContext.GpuDeviceId is set (CPU otherwise) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet, TorchSharp and a libtorch backend |
/// | Exportable to ONNX | After LoadAudio, in a trained audio classifier or a feature chain, with AudioOnnxExport (docs/onnx.md); and with mlContext.Model.ConvertToOnnx (mono, fixed length) |
/// ]]></format>
/// </remarks>
public sealed class MelSpectrogramGpuEstimator : GpuAudioEstimatorBase<MelSpectrogramGpuTransformer>
{
    private readonly MelSpectrogramOptions _options;

    internal MelSpectrogramGpuEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, MelSpectrogramOptions? options)
        : base(env, outputColumnName, inputColumnName)
    {
        _options = (options ?? new MelSpectrogramOptions()).Clone();
        _options.Validate();
    }

    private protected override bool InputIsSpectrum => false;

    private protected override IEnumerable<string> OutputAnnotationKinds =>
        _options.ToDecibel ? AudioAnnotationKinds.Spectrum : AudioAnnotationKinds.PowerSpectrum;

    private protected override MelSpectrogramGpuTransformer Create(SignalColumn input)
    {
        var (stft, mel, db) = _options.Resolve(Env, input, InputColumnName, nameof(MelSpectrogramOptions.SampleRate));
        return new(Env, OutputColumnName, InputColumnName, stft, mel, _options.ToDecibel ? db : null);
    }
}
