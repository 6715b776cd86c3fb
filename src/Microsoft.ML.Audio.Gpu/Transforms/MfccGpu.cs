[assembly: LoadableClass(typeof(MfccGpuTransformer), null, typeof(SignatureLoadModel), MfccGpuTransformer.UserName, MfccGpuTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Options of <see cref="MfccGpuEstimator"/> (<c>mlContext.Transforms.Audio.MfccGpu</c>): the log-mel parts of
/// <see cref="LogMelOptions"/> (always in dB) and the <see cref="Dct"/> part. With torchaudio's STFT defaults
/// (<c>FftLength = 400, HopLength = 200</c>) a row equals <c>torchaudio.transforms.MFCC(log_mels=False)</c> of that row;
/// the 80 dB range (<see cref="LogMelOptions.TopDb"/>) is measured per row (over all its channels), whereas torchaudio
/// measures it over a whole 3-D <c>(batch, mels, frames)</c> tensor. With <see cref="LogMelOptions.Power"/> 1 the
/// decibels are 20·log10 of the magnitude, where torchaudio's MFCC would still use 10·log10.
/// </summary>
public sealed class MfccOptions : LogMelOptions
{
    private DctOptions _dct = new();

    /// <summary>Options with every default.</summary>
    public MfccOptions()
    {
    }

    private MfccOptions(MfccOptions source) : base(source) => _dct = source._dct.Clone();

    internal MfccOptions(GpuStftOptions stft, GpuMelOptions mel, GpuDecibelOptions decibel, DctOptions dct) : base(stft, mel, decibel)
        => _dct = dct.Clone();

    /// <summary>The DCT part: coefficients kept and scaling.</summary>
    public DctOptions Dct { get => _dct; set => _dct = value ?? throw new ArgumentNullException(nameof(Dct)); }

    /// <inheritdoc cref="DctOptions.CoefficientCount"/>
    public int CoefficientCount { get => _dct.CoefficientCount; set => _dct.CoefficientCount = value; }

    /// <inheritdoc cref="DctOptions.Norm"/>
    public DctNorm DctNorm { get => _dct.Norm; set => _dct.Norm = value; }

    private protected override void ValidateOwn() => _dct.Validate(MelBinCount);

    internal MfccOptions Clone() => new(this);
}

/// <summary>The DCT part of <see cref="MfccOptions"/>: DCT-II over the mel bands of each frame.</summary>
public sealed class DctOptions
{
    /// <summary>Cepstral coefficients kept (torchaudio's <c>n_mfcc</c>), at most the mel band count. Default 40.</summary>
    public int CoefficientCount { get; set; } = Mfcc.DefaultCoefficientCount;

    /// <summary>DCT scaling. Default orthonormal (torchaudio, librosa).</summary>
    public DctNorm Norm { get; set; } = DctNorm.Ortho;

    /// <summary>Checks the values against the mel band count; the exception names the property.</summary>
    internal void Validate(int melBins)
    {
        Layers.Check.Positive(CoefficientCount, nameof(MfccOptions.CoefficientCount));
        if (CoefficientCount > melBins)
            throw new ArgumentOutOfRangeException(nameof(MfccOptions.CoefficientCount), CoefficientCount,
                $"CoefficientCount must be at most MelBinCount ({melBins}), got: {CoefficientCount}");
        Layers.Check.Defined(Norm, nameof(MfccOptions.DctNorm));
    }

    // *** Binary format of the DCT settings ***
    // int: coefficient count
    // int: DCT normalisation (DctNorm)
    internal void Save(BinaryWriter writer)
    {
        writer.Write(CoefficientCount);
        writer.Write((int)Norm);
    }

    internal static DctOptions Load(IExceptionContext ectx, BinaryReader reader, int melBins)
    {
        var o = new DctOptions { CoefficientCount = reader.ReadInt32(), Norm = (DctNorm)reader.ReadInt32() };
        return OptionChecks.Decoded(ectx, o, v => v.Validate(melBins), "MFCC settings");
    }

    internal DctOptions Clone() => (DctOptions)MemberwiseClone();
}

/// <summary>
/// Mel-frequency cepstral coefficients of an audio column: STFT → mel filterbank → decibels → DCT-II, one TorchSharp
/// module (<see cref="MelSpectrogram"/> then <see cref="Mfcc"/>) on the GPU when <see cref="MLContext.GpuDeviceId"/> is
/// set. Output: row-major <c>[coefficients, frames]</c> or <c>[channels, coefficients, frames]</c>.
/// </summary>
public sealed class MfccGpuTransformer : GpuAudioTransformerBase
{
    internal const string UserName = "GPU MFCC Transform";
    internal const string LoaderSignature = "MfccGpu";
    private static readonly VersionInfo s_version = CurrentVersion("GPUMFCC ", LoaderSignature, typeof(MfccGpuTransformer));

    private readonly LogMelParts _parts;
    private readonly DctOptions _dct;
    // The mel stage of the module, set when the module is created: its filterbank is what SaveModel writes.
    private MelSpectrogram? _melspec;

    /// <summary>The settings, with the sample rate resolved (a copy).</summary>
    public MfccOptions Options => new(_parts.Stft, _parts.Mel, _parts.Decibel!, _dct);

    internal MfccGpuTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName,
        GpuStftOptions stft, GpuMelOptions resolvedMel, GpuDecibelOptions db, DctOptions dct)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(MfccGpuTransformer)), outputColumnName, inputColumnName, stft.BatchSize)
    {
        _parts = new LogMelParts(stft, resolvedMel, db);
        _dct = dct.Clone();
    }

    // SignatureLoadModel constructor.
    // *** Binary format ***
    // <base: columns and batch size>
    // <STFT settings>
    // <mel settings>
    // <decibel settings>
    // int: coefficient count
    // int: DCT normalisation (DctNorm)
    // stream Filterbank.bin: <filterbank stream> (the mel filterbank values in use)
    // (the front-end parts without LogMelParts' decibel flag: MFCC always takes decibels)
    private MfccGpuTransformer(IHostEnvironment env, ModelLoadContext ctx) : base(env, ctx, s_version, nameof(MfccGpuTransformer))
    {
        _parts = LogMelParts.Load(Host, ctx, RequestedBatchSize, optionalDecibels: false);
        _dct = DctOptions.Load(Host, ctx.Reader, _parts.Mel.MelBinCount);
    }

    private protected override VersionInfo Version => s_version;

    private protected override void SaveSettings(ModelSaveContext ctx)
    {
        _ = Module; // creates the module, and with it _melspec
        _parts.Save(ctx, optionalDecibels: false, _melspec!);
        _dct.Save(ctx.Writer);
    }

    private protected override string ComponentName => "MfccGpu";

    private protected override bool InputIsSpectrum => false;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        var (frames, annotations) = _parts.Layout(Host, input, InputColumnName, nameof(MfccOptions.SampleRate));
        return new OutputLayout(_dct.CoefficientCount, frames, annotations);
    }

    /// <summary>The two layers the transform runs (ONNX export reads their window, filterbank and DCT).</summary>
    internal (MelSpectrogram melspec, Mfcc dct) Layers
    {
        get
        {
            var sequence = (nn.Module)Module; // creates the module, and with it _melspec
            return (_melspec!, (Mfcc)sequence.named_children().Single(c => c.name == "mfcc").module);
        }
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule()
    {
        _melspec = _parts.CreateModule();
        return nn.Sequential(("melspectrogram", _melspec), ("mfcc", AudioLayers.Mfcc(_dct.CoefficientCount, _parts.Mel.MelBinCount, _dct.Norm)));
    }
}

/// <summary>Estimator of <see cref="MfccGpuTransformer"/>: the mel-frequency cepstral coefficients of an audio column.</summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No |
/// | Input column data type | Vector of <xref:System.Single>: [samples] or [channels, samples] |
/// | Output column data type | Vector of <xref:System.Single>: [coefficients, frames] or [channels, coefficients, frames] |
/// | Runs on GPU | Yes, when MLContext.GpuDeviceId is set (CPU otherwise) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet, TorchSharp and a libtorch backend |
/// | Exportable to ONNX | After LoadAudio, in a feature chain, with AudioOnnxExport (docs/onnx.md); and with mlContext.Model.ConvertToOnnx (mono, fixed length) |
/// ]]></format>
/// </remarks>
public sealed class MfccGpuEstimator : GpuAudioEstimatorBase<MfccGpuTransformer>
{
    private readonly MfccOptions _options;

    internal MfccGpuEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, MfccOptions? options)
        : base(env, outputColumnName, inputColumnName)
    {
        _options = (options ?? new MfccOptions()).Clone();
        _options.Validate();
    }

    private protected override bool InputIsSpectrum => false;

    private protected override IEnumerable<string> OutputAnnotationKinds =>
        AudioAnnotationKinds.Spectrum;

    private protected override MfccGpuTransformer Create(SignalColumn input)
    {
        var (stft, mel, db) = _options.Resolve(Env, input, InputColumnName, nameof(MfccOptions.SampleRate));
        return new(Env, OutputColumnName, InputColumnName, stft, mel, db, _options.Dct);
    }
}
