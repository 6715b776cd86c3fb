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
    private const string FilterbankStream = "Filterbank.bin";

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "GPUMFCC ",
        verWrittenCur: 0x00010001, // Initial
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(MfccGpuTransformer).Assembly.FullName);

    private readonly GpuStftOptions _stft;
    private readonly GpuMelOptions _mel;
    private readonly GpuDecibelOptions _db;
    private readonly int _coefficients;
    private readonly DctNorm _dctNorm;
    private readonly float[]? _savedFilterbank;
    // The mel stage of the module, set when the module is created: its filterbank is what SaveModel writes.
    private MelSpectrogram? _melspec;

    /// <summary>The settings, with the sample rate resolved (a copy).</summary>
    public MfccOptions Options => MfccOptions.From(_stft, _mel, _db, _coefficients, _dctNorm);

    internal MfccGpuTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName,
        GpuStftOptions stft, GpuMelOptions resolvedMel, GpuDecibelOptions db, int coefficients, DctNorm dctNorm)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(MfccGpuTransformer)), outputColumnName, inputColumnName, stft.BatchSize)
    {
        _stft = GpuStftTransformer.Clone(stft);
        _mel = resolvedMel.Clone();
        _db = db.Clone();
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
    private MfccGpuTransformer(IHost host, ModelLoadContext ctx) : base(host, ctx)
    {
        _stft = GpuStftOptions.Load(host, ctx.Reader);
        _mel = GpuMelOptions.Load(host, ctx.Reader);
        _db = GpuDecibelOptions.Load(host, ctx.Reader);
        _coefficients = ctx.Reader.ReadInt32();
        _dctNorm = (DctNorm)ctx.Reader.ReadInt32();
        try { MfccOptions.CheckCoefficients(_coefficients, _mel.MelBinCount, _dctNorm); }
        catch (ArgumentException e) { throw host.ExceptDecode(e, $"Invalid MFCC settings in the model: {e.Message}"); }
        host.CheckDecode(_mel.FftLength == _stft.FftLength, "The model's mel and STFT settings disagree on the FFT length.");
        _stft.BatchSize = _mel.BatchSize = _db.BatchSize = BatchSize;
        _stft.SampleRate = _mel.SampleRate;
        int rows = _stft.FftLength / 2 + 1, cols = _mel.MelBinCount;
        float[]? fb = null;
        if (!ctx.TryLoadBinaryStream(FilterbankStream, r => fb = GpuMelOptions.LoadFilterbank(host, r, rows, cols)))
            throw host.ExceptDecode($"The model has no {FilterbankStream} stream.");
        _savedFilterbank = fb;
    }

    private protected override void SaveModel(ModelSaveContext ctx)
    {
        ctx.SetVersionInfo(GetVersionInfo());
        SaveCommon(ctx);
        _stft.Save(ctx.Writer);
        _mel.Save(ctx.Writer);
        _db.Save(ctx.Writer);
        ctx.Writer.Write(_coefficients);
        ctx.Writer.Write((int)_dctNorm);
        _ = Module; // creates the module, and with it _melspec
        ctx.SaveBinaryStream(FilterbankStream, w => GpuMelOptions.SaveFilterbank(w, _melspec!.mel.Filterbank));
    }

    private protected override string ComponentName => "MfccGpu";

    private protected override bool InputIsSpectrum => false;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        int sampleRate = input.ResolveSampleRate(Host, InputColumnName, _mel.SampleRate, nameof(MfccOptions.SampleRate));
        var (_, frames, annotations) = _stft.Describe(sampleRate);
        if (input.IsFixedSize && frames(input.Length) < 1)
            throw Host.ExceptSchemaMismatch("inputSchema", "input", InputColumnName,
                $"at least one frame of {_stft.EffectiveWindowLength} samples", $"{input.Length} samples per channel");
        annotations.Remove(AudioAnnotationKinds.SpectrumPower);
        return new OutputLayout(_coefficients, frames, annotations);
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule()
    {
        var mel = _mel.CreateLayer();
        GpuMelOptions.LoadInto(mel, _savedFilterbank);
        var melspec = new MelSpectrogram("melspectrogram", _stft.CreateLayer(), mel, _db.CreateLayer());
        _melspec = melspec;
        return nn.Sequential(("melspectrogram", melspec), ("mfcc", AudioLayers.Mfcc(_coefficients, _mel.MelBinCount, _dctNorm)));
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
/// | Exportable to ONNX | No |
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
        [AudioAnnotationKinds.SampleRate, AudioAnnotationKinds.ChannelCount, AudioAnnotationKinds.FftLength,
         AudioAnnotationKinds.HopLength, AudioAnnotationKinds.BinCount];

    private protected override MfccGpuTransformer Create(SignalColumn input)
    {
        var melOptions = _options.Mel;
        var mel = melOptions.Mel;
        mel.SampleRate = input.ResolveSampleRate(Env, InputColumnName, _options.SampleRate, nameof(MfccOptions.SampleRate));
        mel.Validate();
        return new(Env, OutputColumnName, InputColumnName, melOptions.Stft, mel, melOptions.Decibel, _options.CoefficientCount, _options.DctNorm);
    }
}
