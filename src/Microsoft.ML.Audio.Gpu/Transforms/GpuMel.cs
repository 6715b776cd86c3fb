[assembly: LoadableClass(typeof(GpuMelTransformer), null, typeof(SignatureLoadModel), GpuMelTransformer.UserName, GpuMelTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>Options of <see cref="GpuMelEstimator"/> (<c>mlContext.Transforms.Audio.GpuMel</c>).</summary>
public sealed class GpuMelOptions
{
    /// <summary>Sample rate of the audio in Hz. Default null: taken from the input's SampleRate annotation (GpuStft
    /// passes on LoadAudio's); when both are known they must agree.</summary>
    public int? SampleRate { get; set; }

    /// <summary>FFT length of the spectrum. Default null: taken from the input's FftLength annotation, else from its
    /// bin count (<c>2 · (bins − 1)</c>).</summary>
    public int? FftLength { get; set; }

    /// <summary>Number of mel bands. Default 128.</summary>
    public int MelBinCount { get; set; } = LayerDefaults.MelBinCount;

    /// <summary>Lowest frequency in Hz. Default 0.</summary>
    public double MinFrequency { get; set; } = LayerDefaults.MinFrequency;

    /// <summary>Highest frequency in Hz, at most the Nyquist frequency. Default null: <c>SampleRate / 2</c>.</summary>
    public double? MaxFrequency { get; set; }

    /// <summary>Mel formula. Default HTK (torchaudio); librosa and Kapre use Slaney.</summary>
    public MelScale MelScale { get; set; } = LayerDefaults.MelScale;

    /// <summary>Filter normalisation. Default none (torchaudio); librosa and Kapre use Slaney.</summary>
    public MelNorm MelNorm { get; set; } = LayerDefaults.MelNorm;

    /// <summary>Rows read ahead and computed together on the device. Default null: 64 on the CPU, 256 on a GPU (a batch too large
    /// for the device's memory is split).</summary>
    public int? BatchSize { get; set; }

    internal void Validate()
    {
        if (SampleRate is int sr) Layers.Check.Positive(sr, nameof(SampleRate));
        if (FftLength is int fft) Layers.Check.Positive(fft, nameof(FftLength));
        Layers.Check.Positive(MelBinCount, nameof(MelBinCount));
        Layers.Check.NonNegative(MinFrequency, nameof(MinFrequency));
        if (MaxFrequency is double max)
        {
            Layers.Check.Positive(max, nameof(MaxFrequency));
            if (max <= MinFrequency) throw new ArgumentOutOfRangeException(nameof(MaxFrequency), max, $"MaxFrequency must be above MinFrequency ({MinFrequency}), got: {max}");
            if (SampleRate is int rate && max > rate / 2.0)
                throw new ArgumentOutOfRangeException(nameof(MaxFrequency), max, $"MaxFrequency must be at most the Nyquist frequency SampleRate / 2 = {rate / 2.0}, got: {max}");
        }
        Layers.Check.Defined(MelScale, nameof(MelScale));
        Layers.Check.Defined(MelNorm, nameof(MelNorm));
        if (BatchSize is int batch) Layers.Check.Positive(batch, nameof(BatchSize));
    }

    /// <summary>The options with SampleRate and FftLength filled in from the input column; throws naming the column
    /// when they disagree with it.</summary>
    internal GpuMelOptions Resolve(IExceptionContext ectx, SignalColumn input, string columnName)
    {
        var r = Clone();
        r.SampleRate = input.ResolveSampleRate(ectx, columnName, SampleRate, nameof(SampleRate));
        int fft = FftLength ?? input.FftLength ?? 2 * (input.Bins - 1);
        if (FftLength is int given && input.FftLength is int annotated && given != annotated)
            throw ectx.ExceptSchemaMismatch("inputSchema", "input", columnName, $"a spectrum of FftLength {given}", $"FftLength {annotated} (its annotation)");
        if (fft / 2 + 1 != input.Bins)
            throw ectx.ExceptSchemaMismatch("inputSchema", "input", columnName, $"{fft / 2 + 1} frequency bins (FftLength {fft})", $"{input.Bins} bins");
        r.FftLength = fft;
        r.Validate();
        return r;
    }

    internal MelFilterbank CreateLayer(bool trainable = false)
        => AudioLayers.MelFilterbank(SampleRate!.Value, FftLength!.Value, MelBinCount, MinFrequency, MaxFrequency, MelScale, MelNorm, trainable);

    // *** Binary format of the mel settings (resolved: sample rate and FFT length known) ***
    // int: sample rate
    // int: FFT length
    // int: mel bands
    // double: min frequency
    // double: max frequency
    // int: mel scale (MelScale)
    // int: normalisation (MelNorm)
    internal void Save(BinaryWriter writer)
    {
        writer.Write(SampleRate!.Value);
        writer.Write(FftLength!.Value);
        writer.Write(MelBinCount);
        writer.Write(MinFrequency);
        writer.Write(MaxFrequency ?? SampleRate.Value / 2.0);
        writer.Write((int)MelScale);
        writer.Write((int)MelNorm);
    }

    internal static GpuMelOptions Load(IExceptionContext ectx, BinaryReader reader)
    {
        var o = new GpuMelOptions
        {
            SampleRate = reader.ReadInt32(),
            FftLength = reader.ReadInt32(),
            MelBinCount = reader.ReadInt32(),
            MinFrequency = reader.ReadDouble(),
            MaxFrequency = reader.ReadDouble(),
            MelScale = (MelScale)reader.ReadInt32(),
            MelNorm = (MelNorm)reader.ReadInt32(),
        };
        return OptionChecks.Decoded(ectx, o, v => v.Validate(), "mel settings");
    }

    internal GpuMelOptions Clone() => (GpuMelOptions)MemberwiseClone();

    // The filterbank stream is ModelWeights' matrix format.
    internal static void SaveFilterbank(BinaryWriter writer, Tensor filterbank) => ModelWeights.SaveMatrix(writer, filterbank);

    /// <summary>Reads a filterbank stream, checking its shape against the settings before allocating.</summary>
    internal static float[] LoadFilterbank(IExceptionContext ectx, BinaryReader reader, int rows, int cols)
    {
        try { return ModelWeights.LoadMatrix(reader, rows, cols, "filterbank"); }
        catch (InvalidDataException e) { throw ectx.ExceptDecode(e, e.Message); }
    }

    internal static void LoadInto(MelFilterbank layer, float[]? values)
    {
        if (values is null) return;
        using var _ = no_grad();
        using var t = tensor(values, [layer.n_freqs, layer.n_mels]);
        layer.Filterbank.copy_(t);
    }
}

/// <summary>
/// Mel filterbank applied to a spectrum column (power or magnitude from <see cref="GpuStftTransformer"/>), computed by
/// the <see cref="MelFilterbank"/> layer on the GPU when <see cref="MLContext.GpuDeviceId"/> is set.
/// Output: row-major <c>[mels, frames]</c> or <c>[channels, mels, frames]</c>.
/// </summary>
public sealed class GpuMelTransformer : GpuAudioTransformerBase
{
    internal const string UserName = "GPU Mel Filterbank Transform";
    internal const string LoaderSignature = "GpuMelTransform";
    private const string FilterbankStream = "Filterbank.bin";

    private static readonly VersionInfo s_version = CurrentVersion("GPUMEL  ", LoaderSignature, typeof(GpuMelTransformer));

    private readonly GpuMelOptions _options;
    private readonly float[]? _savedFilterbank;

    /// <summary>The mel settings, with SampleRate and FftLength resolved (a copy).</summary>
    public GpuMelOptions Options => _options.Clone();

    internal GpuMelTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName, GpuMelOptions resolved)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(GpuMelTransformer)), outputColumnName, inputColumnName, resolved.BatchSize)
    {
        _options = resolved.Clone();
    }

    // SignatureLoadModel constructor.
    // *** Binary format ***
    // <base: columns and batch size>
    // <mel settings>
    // stream Filterbank.bin: <filterbank stream> (the values in use, so a trained filterbank survives)
    private GpuMelTransformer(IHostEnvironment env, ModelLoadContext ctx) : base(env, ctx, s_version, nameof(GpuMelTransformer))
    {
        _options = GpuMelOptions.Load(Host, ctx.Reader);
        _options.BatchSize = RequestedBatchSize;
        int rows = _options.FftLength!.Value / 2 + 1, cols = _options.MelBinCount;
        float[]? fb = null;
        if (!ctx.TryLoadBinaryStream(FilterbankStream, r => fb = GpuMelOptions.LoadFilterbank(Host, r, rows, cols)))
            throw Host.ExceptDecode($"The model has no {FilterbankStream} stream.");
        _savedFilterbank = fb;
    }

    private protected override VersionInfo Version => s_version;

    private protected override void SaveSettings(ModelSaveContext ctx)
    {
        _options.Save(ctx.Writer);
        ctx.SaveBinaryStream(FilterbankStream, w => GpuMelOptions.SaveFilterbank(w, ((MelFilterbank)Module).Filterbank));
    }

    private protected override string ComponentName => "GpuMel";

    private protected override bool InputIsSpectrum => true;

    private protected override int? BinsFromOptions => _options.FftLength / 2 + 1;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        _options.Resolve(Host, input, InputColumnName); // checks sample rate and bins against the column
        var annotations = new Dictionary<string, int>
        {
            [AudioAnnotationKinds.SampleRate] = _options.SampleRate!.Value,
            [AudioAnnotationKinds.FftLength] = _options.FftLength!.Value,
        };
        if (input.HopLength is int hop) annotations[AudioAnnotationKinds.HopLength] = hop;
        if (input.SpectrumPower is int power) annotations[AudioAnnotationKinds.SpectrumPower] = power;
        return new OutputLayout(_options.MelBinCount, frames => frames, annotations);
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule()
    {
        var layer = _options.CreateLayer();
        GpuMelOptions.LoadInto(layer, _savedFilterbank);
        return layer;
    }
}

/// <summary>Estimator of <see cref="GpuMelTransformer"/>: a mel filterbank over a spectrum column.</summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No |
/// | Input column data type | Vector of <xref:System.Single>: [bins, frames] or [channels, bins, frames] |
/// | Output column data type | Vector of <xref:System.Single>: [mels, frames] or [channels, mels, frames] |
/// | Runs on GPU | Yes, when MLContext.GpuDeviceId is set (CPU otherwise) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet, TorchSharp and a libtorch backend |
/// | Exportable to ONNX | After LoadAudio and GpuStft, in a feature chain, with AudioOnnxExport (docs/onnx.md); and with mlContext.Model.ConvertToOnnx (mono, fixed length) |
/// ]]></format>
/// </remarks>
public sealed class GpuMelEstimator : GpuAudioEstimatorBase<GpuMelTransformer>
{
    private readonly GpuMelOptions _options;

    internal GpuMelEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, GpuMelOptions? options)
        : base(env, outputColumnName, inputColumnName)
    {
        _options = (options ?? new GpuMelOptions()).Clone();
        _options.Validate();
    }

    private protected override bool InputIsSpectrum => true;

    private protected override int? BinsFromOptions => _options.FftLength / 2 + 1;

    private protected override IEnumerable<string> OutputAnnotationKinds =>
        AudioAnnotationKinds.PowerSpectrum;

    private protected override GpuMelTransformer Create(SignalColumn input)
        => new(Env, OutputColumnName, InputColumnName, _options.Resolve(Env, input, InputColumnName));
}
