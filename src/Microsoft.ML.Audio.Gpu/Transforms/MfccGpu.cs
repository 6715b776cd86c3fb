using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

[assembly: LoadableClass(typeof(MfccGpuTransformer), null, typeof(SignatureLoadModel), MfccGpuTransformer.UserName, MfccGpuTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Options of <see cref="MfccGpuEstimator"/> (<c>mlContext.Transforms.Audio.MfccGpu</c>): those of
/// <see cref="MelSpectrogramOptions"/> (the log-mel spectrogram, always in dB), plus <see cref="CoefficientCount"/> and
/// <see cref="DctNorm"/>. With torchaudio's STFT defaults (<c>FftLength = 400, HopLength = 200</c>) a row equals
/// <c>torchaudio.transforms.MFCC(log_mels=False)</c> of that row; the 80 dB range is measured per row (over all its
/// channels), whereas torchaudio measures it over a whole 3-D <c>(batch, mels, frames)</c> tensor.
/// </summary>
public sealed class MfccOptions
{
    /// <inheritdoc cref="MelSpectrogramOptions.SampleRate"/>
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
    /// <summary>2 for a power spectrum (default; 10·log10 before the DCT, as torchaudio), 1 for magnitude (20·log10;
    /// torchaudio's MFCC would still use 10·log10).</summary>
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
    /// <summary>Dynamic range of the log-mel spectrogram in dB below each row's maximum; null keeps everything.
    /// Default 80 (torchaudio's MFCC).</summary>
    public double? TopDb { get; set; } = GpuTransformDefaults.TopDb;
    /// <inheritdoc cref="GpuDecibelOptions.MinAmplitude"/>
    public double MinAmplitude { get; set; } = LayerDefaults.Amin;
    /// <inheritdoc cref="GpuDecibelOptions.Reference"/>
    public double Reference { get; set; } = LayerDefaults.Reference;
    /// <summary>Cepstral coefficients kept (torchaudio's <c>n_mfcc</c>), at most <see cref="MelBinCount"/>. Default 40.</summary>
    public int CoefficientCount { get; set; } = Mfcc.DefaultCoefficientCount;
    /// <summary>DCT scaling. Default orthonormal (torchaudio, librosa).</summary>
    public DctNorm DctNorm { get; set; } = DctNorm.Ortho;
    /// <summary>Rows read ahead and computed together on the device. Default 64.</summary>
    public int BatchSize { get; set; } = GpuTransformDefaults.BatchSize;

    /// <summary>The log-mel part, as the options of the fused mel spectrogram (always in dB).</summary>
    internal MelSpectrogramOptions Mel => new()
    {
        SampleRate = SampleRate, FftLength = FftLength, WindowLength = WindowLength, HopLength = HopLength, Window = Window,
        Center = Center, PadMode = PadMode, Framing = Framing, Power = Power, MelBinCount = MelBinCount, MinFrequency = MinFrequency,
        MaxFrequency = MaxFrequency, MelScale = MelScale, MelNorm = MelNorm, ToDecibel = true, TopDb = TopDb,
        MinAmplitude = MinAmplitude, Reference = Reference, BatchSize = BatchSize,
    };

    // Built from the three stages directly: MelSpectrogramOptions.From reports 80 for a decibel stage without top_db.
    internal static MfccOptions From(GpuStftOptions s, GpuMelOptions m, GpuDecibelOptions d, int coefficients, DctNorm norm) => new()
    {
        SampleRate = m.SampleRate, FftLength = s.FftLength, WindowLength = s.WindowLength, HopLength = s.HopLength, Window = s.Window,
        Center = s.Center, PadMode = s.PadMode, Framing = s.Framing, Power = s.Power, MelBinCount = m.MelBinCount,
        MinFrequency = m.MinFrequency, MaxFrequency = m.MaxFrequency, MelScale = m.MelScale, MelNorm = m.MelNorm, TopDb = d.TopDb,
        MinAmplitude = d.MinAmplitude, Reference = d.Reference, CoefficientCount = coefficients, DctNorm = norm, BatchSize = s.BatchSize,
    };

    internal void Validate()
    {
        Mel.Validate();
        CheckCoefficients(CoefficientCount, MelBinCount, DctNorm);
    }

    internal static void CheckCoefficients(int coefficients, int melBins, DctNorm norm)
    {
        Layers.Check.Positive(coefficients, nameof(CoefficientCount));
        if (coefficients > melBins)
            throw new ArgumentOutOfRangeException(nameof(CoefficientCount), coefficients, $"CoefficientCount must be at most MelBinCount ({melBins}), got: {coefficients}");
        Layers.Check.Defined(norm, nameof(DctNorm));
    }

    internal MfccOptions Clone() => (MfccOptions)MemberwiseClone();
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
    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "GPUMFCC ",
        verWrittenCur: 0x00010001, // Initial
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(MfccGpuTransformer).Assembly.FullName);

    private readonly LogMelParts _parts;
    private readonly int _coefficients;
    private readonly DctNorm _dctNorm;
    // The mel stage of the module, set when the module is created: its filterbank is what SaveModel writes.
    private MelSpectrogram? _melspec;

    /// <summary>The settings, with the sample rate resolved (a copy).</summary>
    public MfccOptions Options => MfccOptions.From(_parts.Stft, _parts.Mel, _parts.Decibel!, _coefficients, _dctNorm);

    internal MfccGpuTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName,
        GpuStftOptions stft, GpuMelOptions resolvedMel, GpuDecibelOptions db, int coefficients, DctNorm dctNorm)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(MfccGpuTransformer)), outputColumnName, inputColumnName, stft.BatchSize)
    {
        _parts = new LogMelParts(stft, resolvedMel, db);
        _coefficients = coefficients;
        _dctNorm = dctNorm;
    }

    // Factory method for SignatureLoadModel.
    private static MfccGpuTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        ctx.CheckAtModel(GetVersionInfo());
        return new MfccGpuTransformer(env.Register(nameof(MfccGpuTransformer)), ctx);
    }

    // *** Binary format ***
    // <base: columns and batch size>
    // <STFT settings>
    // <mel settings>
    // <decibel settings>
    // int: coefficient count
    // int: DCT normalisation (DctNorm)
    // stream Filterbank.bin: <filterbank stream> (the mel filterbank values in use)
    // (the front-end parts without LogMelParts' decibel flag: MFCC always takes decibels)
    private MfccGpuTransformer(IHost host, ModelLoadContext ctx) : base(host, ctx)
    {
        _parts = LogMelParts.Load(host, ctx, BatchSize, optionalDecibels: false);
        _coefficients = ctx.Reader.ReadInt32();
        _dctNorm = (DctNorm)ctx.Reader.ReadInt32();
        try { MfccOptions.CheckCoefficients(_coefficients, _parts.Mel.MelBinCount, _dctNorm); }
        catch (ArgumentException e) { throw host.ExceptDecode(e, $"Invalid MFCC settings in the model: {e.Message}"); }
    }

    private protected override void SaveModel(ModelSaveContext ctx)
    {
        ctx.SetVersionInfo(GetVersionInfo());
        SaveCommon(ctx);
        _ = Module; // creates the module, and with it _melspec
        _parts.Save(ctx, optionalDecibels: false, _melspec!);
        ctx.Writer.Write(_coefficients);
        ctx.Writer.Write((int)_dctNorm);
    }

    private protected override string ComponentName => "MfccGpu";

    private protected override bool InputIsSpectrum => false;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        var (frames, annotations) = _parts.Layout(Host, input, InputColumnName, nameof(MfccOptions.SampleRate));
        return new OutputLayout(_coefficients, frames, annotations);
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule()
    {
        _melspec = _parts.CreateModule();
        return nn.Sequential(("melspectrogram", _melspec), ("mfcc", AudioLayers.Mfcc(_coefficients, _parts.Mel.MelBinCount, _dctNorm)));
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
/// | Exportable to ONNX | Not as a standalone step yet (docs/onnx.md) |
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
        var melOptions = _options.Mel;
        var mel = melOptions.Mel;
        mel.SampleRate = input.ResolveSampleRate(Env, InputColumnName, _options.SampleRate, nameof(MfccOptions.SampleRate));
        mel.Validate();
        return new(Env, OutputColumnName, InputColumnName, melOptions.Stft, mel, melOptions.Decibel, _options.CoefficientCount, _options.DctNorm);
    }
}
