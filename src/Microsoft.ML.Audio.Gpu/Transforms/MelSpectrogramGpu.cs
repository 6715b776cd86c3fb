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
    private const string FilterbankStream = "Filterbank.bin";

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "GPUMELSP",
        verWrittenCur: 0x00010001, // Initial
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(MelSpectrogramGpuTransformer).Assembly.FullName);

    private readonly GpuStftOptions _stft;
    private readonly GpuMelOptions _mel;
    private readonly GpuDecibelOptions? _db;
    private readonly float[]? _savedFilterbank;

    /// <summary>The settings, with the sample rate resolved (a copy).</summary>
    public MelSpectrogramOptions Options => MelSpectrogramOptions.From(_stft, _mel, _db);

    /// <summary>The layer the transform runs (ONNX export reads its window and filterbank).</summary>
    internal MelSpectrogram Layer => (MelSpectrogram)Module;

    internal MelSpectrogramGpuTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName,
        GpuStftOptions stft, GpuMelOptions resolvedMel, GpuDecibelOptions? db)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(MelSpectrogramGpuTransformer)), outputColumnName, inputColumnName, stft.BatchSize)
    {
        _stft = GpuStftTransformer.Clone(stft);
        _mel = resolvedMel.Clone();
        _db = db?.Clone();
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
    // <STFT settings>
    // <mel settings>
    // byte: 1 when converted to decibels, then <decibel settings>
    // stream Filterbank.bin: <filterbank stream>
    private MelSpectrogramGpuTransformer(IHost host, ModelLoadContext ctx) : base(host, ctx)
    {
        _stft = GpuStftOptions.Load(host, ctx.Reader);
        _mel = GpuMelOptions.Load(host, ctx.Reader);
        byte toDb = ctx.Reader.ReadByte();
        host.CheckDecode(toDb <= 1);
        _db = toDb == 1 ? GpuDecibelOptions.Load(host, ctx.Reader) : null;
        host.CheckDecode(_mel.FftLength == _stft.FftLength, "The model's mel and STFT settings disagree on the FFT length.");
        _stft.BatchSize = _mel.BatchSize = BatchSize;
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
        ctx.Writer.Write((byte)(_db is null ? 0 : 1));
        _db?.Save(ctx.Writer);
        ctx.SaveBinaryStream(FilterbankStream, w => GpuMelOptions.SaveFilterbank(w, ((MelSpectrogram)Module).mel.Filterbank));
    }

    private protected override string ComponentName => "MelSpectrogramGpu";

    private protected override bool InputIsSpectrum => false;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        int sampleRate = input.ResolveSampleRate(Host, InputColumnName, _mel.SampleRate, nameof(MelSpectrogramOptions.SampleRate));
        var (_, frames, annotations) = _stft.Describe(sampleRate);
        if (input.IsFixedSize && frames(input.Length) < 1)
            throw Host.ExceptSchemaMismatch("inputSchema", "input", InputColumnName,
                $"at least one frame of {_stft.EffectiveWindowLength} samples", $"{input.Length} samples per channel");
        if (_db is not null) annotations.Remove(AudioAnnotationKinds.SpectrumPower);
        return new OutputLayout(_mel.MelBinCount, frames, annotations);
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule()
    {
        var mel = _mel.CreateLayer();
        GpuMelOptions.LoadInto(mel, _savedFilterbank);
        return new MelSpectrogram("melspectrogram", _stft.CreateLayer(), mel, _db?.CreateLayer());
    }
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
/// | Exportable to ONNX | No |
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
        [AudioAnnotationKinds.SampleRate, AudioAnnotationKinds.ChannelCount, AudioAnnotationKinds.FftLength,
         AudioAnnotationKinds.HopLength, AudioAnnotationKinds.BinCount, .. _options.ToDecibel ? [] : (string[])[AudioAnnotationKinds.SpectrumPower]];

    private protected override MelSpectrogramGpuTransformer Create(SignalColumn input)
    {
        var mel = _options.Mel;
        mel.SampleRate = input.ResolveSampleRate(Env, InputColumnName, _options.SampleRate, nameof(MelSpectrogramOptions.SampleRate));
        mel.Validate();
        return new(Env, OutputColumnName, InputColumnName, _options.Stft, mel, _options.ToDecibel ? _options.Decibel : null);
    }
}
