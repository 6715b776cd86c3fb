[assembly: LoadableClass(typeof(GpuDecibelTransformer), null, typeof(SignatureLoadModel), GpuDecibelTransformer.UserName, GpuDecibelTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>Options of <see cref="GpuDecibelEstimator"/> (<c>mlContext.Transforms.Audio.GpuDecibel</c>).</summary>
public sealed class GpuDecibelOptions
{
    /// <summary>Dynamic range in dB kept below each row's maximum (values below are raised to it); null keeps
    /// everything. Default 80 (librosa, Kapre).</summary>
    public double? TopDb { get; set; } = GpuTransformDefaults.TopDb;

    /// <summary>Floor applied before the logarithm (librosa's and torchaudio's <c>amin</c>). Default 1e-10.</summary>
    public double MinAmplitude { get; set; } = LayerDefaults.Amin;

    /// <summary>Value mapped to 0 dB (librosa's <c>ref</c>). Default 1.</summary>
    public double Reference { get; set; } = LayerDefaults.Reference;

    /// <summary>2 when the input is a power spectrum (10·log10), 1 for a magnitude (20·log10). Default null: taken from
    /// the input's SpectrumPower annotation, else 2.</summary>
    public double? Power { get; set; }

    /// <summary>Rows read ahead and computed together on the device. Default null: 64 on the CPU, 256 on a GPU (a batch too large
    /// for the device's memory is split).</summary>
    public int? BatchSize { get; set; }

    internal void Validate()
    {
        if (TopDb is double top) Layers.Check.NonNegative(top, nameof(TopDb));
        Layers.Check.Positive(MinAmplitude, nameof(MinAmplitude));
        Layers.Check.Positive(Reference, nameof(Reference));
        if (Power is double p && p is not (1.0 or 2.0))
            throw new ArgumentOutOfRangeException(nameof(Power), p, $"Power must be 1 (magnitude) or 2 (power), got: {p}");
        if (BatchSize is int batch) Layers.Check.Positive(batch, nameof(BatchSize));
    }

    internal GpuDecibelOptions Resolve(IExceptionContext ectx, SignalColumn input, string columnName)
    {
        var r = Clone();
        if (Power is double p && input.SpectrumPower is int annotated && annotated != (int)p)
            throw ectx.ExceptSchemaMismatch("inputSchema", "input", columnName, $"a spectrum of Power {p}", $"SpectrumPower {annotated} (its annotation)");
        r.Power = Power ?? input.SpectrumPower ?? 2.0;
        r.Validate();
        return r;
    }

    internal AmplitudeToDecibel CreateLayer()
        => AudioLayers.AmplitudeToDecibel(Power == 1.0 ? SpectrumType.Magnitude : SpectrumType.Power, Reference, MinAmplitude, TopDb);

    // *** Binary format of the decibel settings (resolved: power known) ***
    // double: top_db, NaN = none
    // double: amin
    // double: reference
    // double: power (1 or 2)
    internal void Save(BinaryWriter writer)
    {
        writer.Write(TopDb ?? double.NaN);
        writer.Write(MinAmplitude);
        writer.Write(Reference);
        writer.Write(Power ?? 2.0);
    }

    internal static GpuDecibelOptions Load(IExceptionContext ectx, BinaryReader reader)
    {
        double top = reader.ReadDouble();
        var o = new GpuDecibelOptions
        {
            TopDb = double.IsNaN(top) ? null : top,
            MinAmplitude = reader.ReadDouble(),
            Reference = reader.ReadDouble(),
            Power = reader.ReadDouble(),
        };
        return OptionChecks.Decoded(ectx, o, v => v.Validate(), "decibel settings");
    }

    internal GpuDecibelOptions Clone() => (GpuDecibelOptions)MemberwiseClone();
}

/// <summary>
/// Power or magnitude spectrum to decibels, computed by the <see cref="AmplitudeToDecibel"/> layer on the GPU when
/// <see cref="MLContext.GpuDeviceId"/> is set; the dynamic range <c>TopDb</c> applies to each row (all its channels).
/// </summary>
public sealed class GpuDecibelTransformer : GpuAudioTransformerBase
{
    internal const string UserName = "GPU Decibel Transform";
    internal const string LoaderSignature = "GpuDecibelTransform";

    private static readonly VersionInfo s_version = CurrentVersion("GPUDB   ", LoaderSignature, typeof(GpuDecibelTransformer));

    private readonly GpuDecibelOptions _options;

    /// <summary>The decibel settings, with Power resolved (a copy).</summary>
    public GpuDecibelOptions Options => _options.Clone();

    internal GpuDecibelTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName, GpuDecibelOptions resolved)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(GpuDecibelTransformer)), outputColumnName, inputColumnName, resolved.BatchSize)
    {
        _options = resolved.Clone();
    }

    // SignatureLoadModel constructor.
    // *** Binary format ***
    // <base: columns and batch size>
    // <decibel settings>
    private GpuDecibelTransformer(IHostEnvironment env, ModelLoadContext ctx) : base(env, ctx, s_version, nameof(GpuDecibelTransformer))
    {
        _options = GpuDecibelOptions.Load(Host, ctx.Reader);
        _options.BatchSize = RequestedBatchSize;
    }

    private protected override VersionInfo Version => s_version;

    private protected override void SaveSettings(ModelSaveContext ctx)
    {
        _options.Save(ctx.Writer);
    }

    private protected override string ComponentName => "GpuDecibel";

    private protected override bool InputIsSpectrum => true;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        _options.Resolve(Host, input, InputColumnName);
        var annotations = new Dictionary<string, int>();
        if (input.SampleRate is int sr) annotations[AudioAnnotationKinds.SampleRate] = sr;
        if (input.FftLength is int fft) annotations[AudioAnnotationKinds.FftLength] = fft;
        if (input.HopLength is int hop) annotations[AudioAnnotationKinds.HopLength] = hop;
        return new OutputLayout(input.Bins, frames => frames, annotations);
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule() => _options.CreateLayer();
}

/// <summary>Estimator of <see cref="GpuDecibelTransformer"/>: power or magnitude to decibels.</summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No |
/// | Input column data type | Vector of <xref:System.Single>: [bins, frames] or [channels, bins, frames], with a BinCount annotation or known dimensions |
/// | Output column data type | Vector of <xref:System.Single>, same shape, in dB |
/// | Runs on GPU | Yes, when MLContext.GpuDeviceId is set (CPU otherwise) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet, TorchSharp and a libtorch backend |
/// | Exportable to ONNX | After LoadAudio and GpuStft [→ GpuMel], in a feature chain, with AudioOnnxExport (docs/onnx.md); and with mlContext.Model.ConvertToOnnx (mono, fixed length) |
/// ]]></format>
/// </remarks>
public sealed class GpuDecibelEstimator : GpuAudioEstimatorBase<GpuDecibelTransformer>
{
    private readonly GpuDecibelOptions _options;

    internal GpuDecibelEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, GpuDecibelOptions? options)
        : base(env, outputColumnName, inputColumnName)
    {
        _options = (options ?? new GpuDecibelOptions()).Clone();
        _options.Validate();
    }

    private protected override bool InputIsSpectrum => true;

    private protected override IEnumerable<string> OutputAnnotationKinds =>
        AudioAnnotationKinds.Spectrum;

    private protected override GpuDecibelTransformer Create(SignalColumn input)
        => new(Env, OutputColumnName, InputColumnName, _options.Resolve(Env, input, InputColumnName));
}
