[assembly: LoadableClass(typeof(GpuStftTransformer), null, typeof(SignatureLoadModel), GpuStftTransformer.UserName, GpuStftTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>Options of <see cref="GpuStftEstimator"/> (<c>mlContext.Transforms.Audio.GpuStft</c>).</summary>
public sealed class GpuStftOptions
{
    /// <summary>FFT length; the output has <c>FftLength / 2 + 1</c> frequency bins. Default 512.</summary>
    public int FftLength { get; set; } = LayerDefaults.FftLength;

    /// <summary>Window length in samples, at most <see cref="FftLength"/> (zero-padded to it). Default: <see cref="FftLength"/>.</summary>
    public int? WindowLength { get; set; }

    /// <summary>Samples between frame starts. Default: <c>WindowLength / 4</c> (librosa and Kapre).</summary>
    public int? HopLength { get; set; }

    /// <summary>Window shape, periodic. Default Hann.</summary>
    public WindowType Window { get; set; } = LayerDefaults.Window;

    /// <summary>Centre frames on their time (torch.stft <c>center=True</c>, librosa): pad <c>FftLength / 2</c> samples
    /// on each side with <see cref="PadMode"/>. False: torch's <c>center=False</c>. Default true.
    /// Ignored when <see cref="Framing"/> is set.</summary>
    public bool Center { get; set; } = true;

    /// <summary>Fill for centring. Default reflect.</summary>
    public PadMode PadMode { get; set; } = LayerDefaults.PadMode;

    /// <summary>Any framing convention, including Kapre's (<see cref="FramePadding.Valid"/>,
    /// <see cref="FramePadding.PadEnd"/>, <see cref="FramePadding.Same"/>, ...); overrides <see cref="Center"/>. Default null.</summary>
    public FramePadding? Framing { get; set; }

    /// <summary>2 for the power spectrum |X|², 1 for the magnitude |X|. Default 2.</summary>
    public double Power { get; set; } = 2.0;

    /// <summary>Expected sample rate in Hz; when set, an input column whose SampleRate annotation differs is rejected.
    /// Default null (not checked).</summary>
    public int? SampleRate { get; set; }

    /// <summary>Rows read ahead and computed together on the device. Default null: 64 on the CPU, 256 on a GPU (a batch too large
    /// for the device's memory is split).</summary>
    public int? BatchSize { get; set; }

    internal FramePadding EffectiveFraming => Framing ?? (Center ? FramePadding.Center : FramePadding.NoCenter);
    private StftGeometry Geometry => StftGeometry.OfOptions(FftLength, WindowLength, HopLength);
    internal int EffectiveWindowLength => (int)Geometry.WindowLength;
    internal int EffectiveHopLength => (int)Geometry.HopLength;
    internal SpectrumType Output => Power == 1.0 ? SpectrumType.Magnitude : SpectrumType.Power;

    /// <summary>Checks the values; the exception names the property.</summary>
    internal void Validate()
    {
        _ = Geometry;
        Layers.Check.Defined(Window, nameof(Window));
        Layers.Check.Defined(PadMode, nameof(PadMode));
        if (Framing is FramePadding f) Layers.Check.Defined(f, nameof(Framing));
        if (Power is not (1.0 or 2.0)) throw new ArgumentOutOfRangeException(nameof(Power), Power, $"Power must be 1 (magnitude) or 2 (power), got: {Power}");
        if (SampleRate is int sr) Layers.Check.Positive(sr, nameof(SampleRate));
        if (BatchSize is int batch) Layers.Check.Positive(batch, nameof(BatchSize));
    }

    internal Stft CreateLayer() => AudioLayers.Stft(FftLength, EffectiveWindowLength, EffectiveHopLength, Window, EffectiveFraming, PadMode, Output);

    // *** Binary format of the STFT settings ***
    // int: FFT length
    // int: window length
    // int: hop length
    // int: window (WindowType)
    // int: framing (FramePadding)
    // int: pad mode (PadMode)
    // double: power (1 or 2)
    internal void Save(BinaryWriter writer)
    {
        writer.Write(FftLength);
        writer.Write(EffectiveWindowLength);
        writer.Write(EffectiveHopLength);
        writer.Write((int)Window);
        writer.Write((int)EffectiveFraming);
        writer.Write((int)PadMode);
        writer.Write(Power);
    }

    internal static GpuStftOptions Load(IExceptionContext ectx, BinaryReader reader)
    {
        var o = new GpuStftOptions
        {
            FftLength = reader.ReadInt32(),
            WindowLength = reader.ReadInt32(),
            HopLength = reader.ReadInt32(),
            Window = (WindowType)reader.ReadInt32(),
            Framing = (FramePadding)reader.ReadInt32(),
            PadMode = (PadMode)reader.ReadInt32(),
            Power = reader.ReadDouble(),
        };
        return OptionChecks.Decoded(ectx, o, v => v.Validate(), "STFT settings");
    }

    internal GpuStftOptions Clone() => (GpuStftOptions)MemberwiseClone();

    /// <summary>Output layout for an audio input: bins and frames, and the annotations a spectrum carries.</summary>
    internal (int bins, Func<int, int> frames, Dictionary<string, int> annotations) Describe(int? sampleRate)
    {
        int fft = FftLength, win = EffectiveWindowLength, hop = EffectiveHopLength;
        var framing = EffectiveFraming;
        var annotations = new Dictionary<string, int>
        {
            [AudioAnnotationKinds.FftLength] = fft,
            [AudioAnnotationKinds.HopLength] = hop,
            [AudioAnnotationKinds.SpectrumPower] = (int)Power,
        };
        if (sampleRate is int sr) annotations[AudioAnnotationKinds.SampleRate] = sr;
        return (fft / 2 + 1, samples => (int)Functional.frame_count(samples, fft, hop, win, framing), annotations);
    }
}

/// <summary>
/// Short-time Fourier transform of an audio column, computed by the <see cref="Stft"/> layer on the GPU when
/// <see cref="MLContext.GpuDeviceId"/> is set. Output: power or magnitude, row-major <c>[bins, frames]</c> (mono) or
/// <c>[channels, bins, frames]</c>.
/// </summary>
public sealed class GpuStftTransformer : GpuAudioTransformerBase
{
    internal const string UserName = "GPU STFT Transform";
    internal const string LoaderSignature = "GpuStftTransform";

    private static readonly VersionInfo s_version = CurrentVersion("GPUSTFT ", LoaderSignature, typeof(GpuStftTransformer));

    private readonly GpuStftOptions _options;

    /// <summary>The STFT settings (a copy).</summary>
    public GpuStftOptions Options => _options.Clone();

    internal GpuStftTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName, GpuStftOptions options)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(GpuStftTransformer)), outputColumnName, inputColumnName, options.BatchSize)
    {
        _options = options.Clone();
    }

    // SignatureLoadModel constructor.
    // *** Binary format ***
    // <base: columns and batch size>
    // <STFT settings>
    // int: expected sample rate, 0 = not checked
    private GpuStftTransformer(IHostEnvironment env, ModelLoadContext ctx) : base(env, ctx, s_version, nameof(GpuStftTransformer))
    {
        _options = GpuStftOptions.Load(Host, ctx.Reader);
        int sr = ctx.Reader.ReadInt32();
        Host.CheckDecode(sr >= 0);
        _options.SampleRate = sr == 0 ? null : sr;
        _options.BatchSize = RequestedBatchSize;
    }

    private protected override VersionInfo Version => s_version;

    private protected override void SaveSettings(ModelSaveContext ctx)
    {
        _options.Save(ctx.Writer);
        ctx.Writer.Write(_options.SampleRate ?? 0);
    }

    private protected override string ComponentName => "GpuStft";

    private protected override bool InputIsSpectrum => false;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        int? sampleRate = input.SampleRate;
        if (_options.SampleRate is int expected)
            sampleRate = input.ResolveSampleRate(Host, InputColumnName, expected, nameof(GpuStftOptions.SampleRate));
        var (bins, frames, annotations) = _options.Describe(sampleRate);
        if (input.IsFixedSize && frames(input.Length) < 1)
            throw Host.ExceptSchemaMismatch("inputSchema", "input", InputColumnName,
                $"at least one frame of {_options.EffectiveWindowLength} samples", $"{input.Length} samples per channel");
        return new OutputLayout(bins, frames, annotations);
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule() => _options.CreateLayer();

}

/// <summary>
/// Estimator of <see cref="GpuStftTransformer"/>: the short-time Fourier transform of an audio column.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No |
/// | Input column data type | Vector of <xref:System.Single>: [samples] or [channels, samples] |
/// | Output column data type | Vector of <xref:System.Single>: [bins, frames] or [channels, bins, frames] |
/// | Runs on GPU | Yes, when MLContext.GpuDeviceId is set (CPU otherwise) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet, TorchSharp and a libtorch backend |
/// | Exportable to ONNX | After LoadAudio, in a feature chain, with AudioOnnxExport (docs/onnx.md); and with mlContext.Model.ConvertToOnnx (mono, fixed length) |
/// ]]></format>
/// </remarks>
public sealed class GpuStftEstimator : GpuAudioEstimatorBase<GpuStftTransformer>
{
    private readonly GpuStftOptions _options;

    internal GpuStftEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, GpuStftOptions? options)
        : base(env, outputColumnName, inputColumnName)
    {
        _options = (options ?? new GpuStftOptions()).Clone();
        _options.Validate();
    }

    private protected override bool InputIsSpectrum => false;

    private protected override IEnumerable<string> OutputAnnotationKinds =>
        AudioAnnotationKinds.PowerSpectrum;

    // The transformer checks the column's sample rate against the options itself (GetOutputSchema).
    private protected override GpuStftTransformer Create(SignalColumn input) => new(Env, OutputColumnName, InputColumnName, _options);
}
