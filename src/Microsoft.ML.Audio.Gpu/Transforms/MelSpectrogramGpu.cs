using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(MelSpectrogramGpuTransformer), null, typeof(SignatureLoadModel), MelSpectrogramGpuTransformer.UserName, MelSpectrogramGpuTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Options of <see cref="MelSpectrogramGpuEstimator"/> (<c>mlContext.Transforms.Audio.MelSpectrogramGpu</c>): those of
/// <see cref="GpuStftOptions"/>, <see cref="GpuMelOptions"/> and <see cref="GpuDecibelOptions"/>, with their defaults,
/// plus <see cref="ToDecibel"/>.
/// </summary>
public sealed class MelSpectrogramOptions
{
    /// <summary>Sample rate of the audio in Hz. Default null: from the input's SampleRate annotation (LoadAudio sets it).</summary>
    public int? SampleRate { get; set; }
    /// <inheritdoc cref="GpuStftOptions.FftLength"/>
    public int FftLength { get; set; } = LayerDefaults.FftLength;
    /// <inheritdoc cref="GpuStftOptions.WindowLength"/>
    public int? WindowLength { get; set; }
    /// <inheritdoc cref="GpuStftOptions.HopLength"/>
    public int? HopLength { get; set; }
    /// <inheritdoc cref="GpuStftOptions.Window"/>
    public WindowType Window { get; set; } = LayerDefaults.Window;
    /// <inheritdoc cref="GpuStftOptions.Center"/>
    public bool Center { get; set; } = true;
    /// <inheritdoc cref="GpuStftOptions.PadMode"/>
    public PadMode PadMode { get; set; } = LayerDefaults.PadMode;
    /// <inheritdoc cref="GpuStftOptions.Framing"/>
    public FramePadding? Framing { get; set; }
    /// <inheritdoc cref="GpuStftOptions.Power"/>
    public double Power { get; set; } = 2.0;
    /// <inheritdoc cref="GpuMelOptions.MelBinCount"/>
    public int MelBinCount { get; set; } = LayerDefaults.MelBinCount;
    /// <inheritdoc cref="GpuMelOptions.MinFrequency"/>
    public double MinFrequency { get; set; } = LayerDefaults.MinFrequency;
    /// <inheritdoc cref="GpuMelOptions.MaxFrequency"/>
    public double? MaxFrequency { get; set; }
    /// <inheritdoc cref="GpuMelOptions.MelScale"/>
    public MelScale MelScale { get; set; } = LayerDefaults.MelScale;
    /// <inheritdoc cref="GpuMelOptions.MelNorm"/>
    public MelNorm MelNorm { get; set; } = LayerDefaults.MelNorm;
    /// <summary>Convert the mel spectrogram to decibels (a log-mel spectrogram). Default true.</summary>
    public bool ToDecibel { get; set; } = true;
    /// <inheritdoc cref="GpuDecibelOptions.TopDb"/>
    public double? TopDb { get; set; } = GpuTransformDefaults.TopDb;
    /// <inheritdoc cref="GpuDecibelOptions.MinAmplitude"/>
    public double MinAmplitude { get; set; } = LayerDefaults.Amin;
    /// <inheritdoc cref="GpuDecibelOptions.Reference"/>
    public double Reference { get; set; } = LayerDefaults.Reference;
    /// <summary>Rows read ahead and computed together on the device. Default 64.</summary>
    public int BatchSize { get; set; } = GpuTransformDefaults.BatchSize;

    internal GpuStftOptions Stft => new()
    {
        FftLength = FftLength, WindowLength = WindowLength, HopLength = HopLength, Window = Window, Center = Center,
        PadMode = PadMode, Framing = Framing, Power = Power, SampleRate = SampleRate, BatchSize = BatchSize,
    };

    internal GpuMelOptions Mel => new()
    {
        SampleRate = SampleRate, FftLength = FftLength, MelBinCount = MelBinCount, MinFrequency = MinFrequency,
        MaxFrequency = MaxFrequency, MelScale = MelScale, MelNorm = MelNorm, BatchSize = BatchSize,
    };

    internal GpuDecibelOptions Decibel => new()
    {
        TopDb = TopDb, MinAmplitude = MinAmplitude, Reference = Reference, Power = Power, BatchSize = BatchSize,
    };

    internal static MelSpectrogramOptions From(GpuStftOptions s, GpuMelOptions m, GpuDecibelOptions? d) => new()
    {
        SampleRate = m.SampleRate, FftLength = s.FftLength, WindowLength = s.WindowLength, HopLength = s.HopLength,
        Window = s.Window, Center = s.Center, PadMode = s.PadMode, Framing = s.Framing, Power = s.Power,
        MelBinCount = m.MelBinCount, MinFrequency = m.MinFrequency, MaxFrequency = m.MaxFrequency, MelScale = m.MelScale,
        MelNorm = m.MelNorm, ToDecibel = d is not null, TopDb = d is null ? GpuTransformDefaults.TopDb : d.TopDb,
        MinAmplitude = d?.MinAmplitude ?? LayerDefaults.Amin, Reference = d?.Reference ?? LayerDefaults.Reference,
        BatchSize = s.BatchSize,
    };

    internal void Validate()
    {
        Stft.Validate();
        Mel.Validate();
        Decibel.Validate();
    }

    internal MelSpectrogramOptions Clone() => (MelSpectrogramOptions)MemberwiseClone();
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
    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "GPUMELSP",
        verWrittenCur: 0x00010001, // Initial
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(MelSpectrogramGpuTransformer).Assembly.FullName);

    private readonly LogMelParts _parts;

    /// <summary>The settings, with the sample rate resolved (a copy).</summary>
    public MelSpectrogramOptions Options => MelSpectrogramOptions.From(_parts.Stft, _parts.Mel, _parts.Decibel);

    /// <summary>The layer the transform runs (ONNX export reads its window and filterbank).</summary>
    internal MelSpectrogram Layer => (MelSpectrogram)Module;

    internal MelSpectrogramGpuTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName,
        GpuStftOptions stft, GpuMelOptions resolvedMel, GpuDecibelOptions? db)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(MelSpectrogramGpuTransformer)), outputColumnName, inputColumnName, stft.BatchSize)
    {
        _parts = new LogMelParts(stft, resolvedMel, db);
    }

    // Factory method for SignatureLoadModel.
    private static MelSpectrogramGpuTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        ctx.CheckAtModel(GetVersionInfo());
        return new MelSpectrogramGpuTransformer(env.Register(nameof(MelSpectrogramGpuTransformer)), ctx);
    }

    // *** Binary format ***
    // <base: columns and batch size>
    // <front-end parts: STFT settings, mel settings, byte 1 when converted to decibels then decibel settings,
    //  stream Filterbank.bin> (LogMelParts)
    private MelSpectrogramGpuTransformer(IHost host, ModelLoadContext ctx) : base(host, ctx)
    {
        _parts = LogMelParts.Load(host, ctx, BatchSize, optionalDecibels: true);
    }

    private protected override void SaveModel(ModelSaveContext ctx)
    {
        ctx.SetVersionInfo(GetVersionInfo());
        SaveCommon(ctx);
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
/// | Exportable to ONNX | As part of a trained audio classifier, with AudioOnnxExport (docs/onnx.md); not as a standalone step yet |
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
        var mel = _options.Mel;
        mel.SampleRate = input.ResolveSampleRate(Env, InputColumnName, _options.SampleRate, nameof(MelSpectrogramOptions.SampleRate));
        mel.Validate();
        return new(Env, OutputColumnName, InputColumnName, _options.Stft, mel, _options.ToDecibel ? _options.Decibel : null);
    }
}
