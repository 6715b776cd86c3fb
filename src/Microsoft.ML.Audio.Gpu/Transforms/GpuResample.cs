[assembly: LoadableClass(typeof(GpuResampleTransformer), null, typeof(SignatureLoadModel), GpuResampleTransformer.UserName, GpuResampleTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>Options of <see cref="GpuResampleEstimator"/> (<c>mlContext.Transforms.Audio.GpuResample</c>).</summary>
/// <remarks>
/// The device counterpart of LoadAudio's CPU resampler, for large batches: load files at their own rate
/// (<c>LoadAudioOptions.SampleRate</c> = the files' rate), then resample on the GPU. Quality follows torchaudio: with
/// the defaults (filter width 6, rolloff 0.99) a 1 kHz tone 44.1 → 16 kHz keeps 68 dB SNR but a 9 kHz tone aliases at
/// −17 dB; the Kaiser method gives 140 dB SNR. LoadAudio's CPU resampler reaches 121 dB and −116 dB.
/// </remarks>
public sealed class GpuResampleOptions
{
    /// <summary>Sample rate of the output in Hz. Default 16000.</summary>
    public int SampleRate { get; set; } = LoadAudioOptions.Defaults.SampleRate;

    /// <summary>Sample rate of the input; default null: the input column's SampleRate annotation (LoadAudio sets it).</summary>
    public int? InputSampleRate { get; set; }

    /// <summary>Zero crossings of the sinc on each side (torchaudio's <c>lowpass_filter_width</c>). Default 6.</summary>
    public int LowpassFilterWidth { get; set; } = (int)Functional.ResampleLowpassFilterWidth;

    /// <summary>Cutoff as a fraction of the lower Nyquist frequency (torchaudio's <c>rolloff</c>). Default 0.99.</summary>
    public double Rolloff { get; set; } = Functional.ResampleRolloff;

    /// <summary>Window of the sinc kernel. Default Hann (torchaudio's default).</summary>
    public ResamplingMethod Method { get; set; } = ResamplingMethod.SincInterpHann;

    /// <summary>Kaiser β for <see cref="ResamplingMethod.SincInterpKaiser"/>; null uses torchaudio's 14.77.</summary>
    public double? Beta { get; set; }

    /// <summary>Rows read ahead and resampled together on the device. Default null: 64 on the CPU, 256 on a GPU (a batch too large
    /// for the device's memory is split).</summary>
    public int? BatchSize { get; set; }

    internal void Validate()
    {
        Layers.Check.Positive(SampleRate, nameof(SampleRate));
        if (InputSampleRate is int r) Layers.Check.Positive(r, nameof(InputSampleRate));
        Layers.Check.Positive(LowpassFilterWidth, nameof(LowpassFilterWidth));
        if (!(Rolloff > 0 && Rolloff <= 1)) throw new ArgumentOutOfRangeException(nameof(Rolloff), Rolloff, $"Rolloff must be in (0, 1], got: {Rolloff}");
        Layers.Check.Defined(Method, nameof(Method));
        if (Beta is double b) Layers.Check.Positive(b, nameof(Beta));
        if (BatchSize is int batch) Layers.Check.Positive(batch, nameof(BatchSize));
    }

    internal GpuResampleOptions Clone() => (GpuResampleOptions)MemberwiseClone();

    internal Layers.Resample CreateLayer() => AudioLayers.Resample(InputSampleRate!.Value, SampleRate, LowpassFilterWidth, Rolloff, Method,
        Method == ResamplingMethod.SincInterpKaiser ? Beta ?? Functional.ResampleKaiserBeta : null);
}

/// <summary>
/// Resamples an audio column on the GPU when <see cref="MLContext.GpuDeviceId"/> is set, with the band-limited sinc of
/// the <see cref="Layers.Resample"/> layer (torchaudio's). Output: <c>[samples]</c> or <c>[channels, samples]</c> at
/// the new rate, with the SampleRate annotation updated.
/// </summary>
public sealed class GpuResampleTransformer : GpuAudioTransformerBase
{
    internal const string UserName = "GPU Resample Transform";
    internal const string LoaderSignature = "GpuResampleTransform";

    private static readonly VersionInfo s_version = CurrentVersion("GPURESMP", LoaderSignature, typeof(GpuResampleTransformer));

    private readonly GpuResampleOptions _options;

    /// <summary>The settings, with the input rate resolved (a copy).</summary>
    public GpuResampleOptions Options => _options.Clone();

    internal GpuResampleTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName, GpuResampleOptions resolved)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(GpuResampleTransformer)), outputColumnName, inputColumnName, resolved.BatchSize)
    {
        _options = resolved.Clone();
    }

    // SignatureLoadModel constructor.
    // *** Binary format ***
    // <base: columns and batch size>
    // int: input rate, int: output rate, int: lowpass filter width, double: rolloff
    // int: method (ResamplingMethod), double: Kaiser beta (NaN = default)
    private GpuResampleTransformer(IHostEnvironment env, ModelLoadContext ctx) : base(env, ctx, s_version, nameof(GpuResampleTransformer))
    {
        _options = new GpuResampleOptions
        {
            InputSampleRate = ctx.Reader.ReadInt32(),
            SampleRate = ctx.Reader.ReadInt32(),
            LowpassFilterWidth = ctx.Reader.ReadInt32(),
            Rolloff = ctx.Reader.ReadDouble(),
            Method = (ResamplingMethod)ctx.Reader.ReadInt32(),
            BatchSize = RequestedBatchSize,
        };
        double beta = ctx.Reader.ReadDouble();
        _options.Beta = double.IsNaN(beta) ? null : beta;
        OptionChecks.Decoded(Host, _options, v => v.Validate(), "resampling settings");
    }

    private protected override VersionInfo Version => s_version;

    private protected override void SaveSettings(ModelSaveContext ctx)
    {
        ctx.Writer.Write(_options.InputSampleRate!.Value);
        ctx.Writer.Write(_options.SampleRate);
        ctx.Writer.Write(_options.LowpassFilterWidth);
        ctx.Writer.Write(_options.Rolloff);
        ctx.Writer.Write((int)_options.Method);
        ctx.Writer.Write(_options.Beta ?? double.NaN);
    }

    private protected override string ComponentName => "GpuResample";

    private protected override bool InputIsSpectrum => false;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        input.ResolveSampleRate(Host, InputColumnName, _options.InputSampleRate, nameof(GpuResampleOptions.InputSampleRate));
        long from = _options.InputSampleRate!.Value, to = _options.SampleRate;
        var annotations = new Dictionary<string, int> { [AudioAnnotationKinds.SampleRate] = _options.SampleRate };
        return new OutputLayout(0, samples => (int)Functional.resampled_length(samples, from, to), annotations);
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule() => _options.CreateLayer();
}

/// <summary>Estimator of <see cref="GpuResampleTransformer"/>: resamples an audio column on the device.</summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No |
/// | Input column data type | Vector of <xref:System.Single>: [samples] or [channels, samples], with a SampleRate annotation or InputSampleRate |
/// | Output column data type | Vector of <xref:System.Single>, same layout, at the new rate |
/// | Runs on GPU | Yes, when MLContext.GpuDeviceId is set (CPU otherwise) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet, TorchSharp and a libtorch backend |
/// | Exportable to ONNX | After LoadAudio, in a feature chain, with AudioOnnxExport (docs/onnx.md); and with mlContext.Model.ConvertToOnnx (mono, fixed length) |
/// ]]></format>
/// </remarks>
public sealed class GpuResampleEstimator : GpuAudioEstimatorBase<GpuResampleTransformer>
{
    private readonly GpuResampleOptions _options;

    internal GpuResampleEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, GpuResampleOptions? options)
        : base(env, outputColumnName, inputColumnName)
    {
        _options = (options ?? new GpuResampleOptions()).Clone();
        _options.Validate();
    }

    private protected override bool InputIsSpectrum => false;

    private protected override IEnumerable<string> OutputAnnotationKinds => [AudioAnnotationKinds.SampleRate, AudioAnnotationKinds.ChannelCount];

    private protected override GpuResampleTransformer Create(SignalColumn input)
    {
        var resolved = _options.Clone();
        resolved.InputSampleRate = input.ResolveSampleRate(Env, InputColumnName, _options.InputSampleRate, nameof(GpuResampleOptions.InputSampleRate));
        return new(Env, OutputColumnName, InputColumnName, resolved);
    }
}
