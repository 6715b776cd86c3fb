using Microsoft.ML.Audio.Gpu.IO;
[assembly: LoadableClass(typeof(SpeechEmbeddingTransformer), null, typeof(SignatureLoadModel), SpeechEmbeddingTransformer.UserName, SpeechEmbeddingTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>Options of <see cref="SpeechEmbeddingEstimator"/> (<c>mlContext.Transforms.Audio.SpeechEmbedding</c>).</summary>
public sealed class SpeechEmbeddingOptions
{
    /// <summary>How the 96-value embeddings of a clip's 760 ms windows (one every 80 ms) are combined: mean and max
    /// (192 values, the default), mean or max (96), or none (<c>[96, windows]</c>, laid out as a spectrogram).</summary>
    public EmbeddingPooling Pooling { get; set; } = EmbeddingPooling.MeanMax;

    /// <summary>Clips shorter than this are padded with silence (see <see cref="Pad"/>). Default 2 s: a one-second word
    /// centred in 2 s gives 16 windows that see it at every place in the window, which on real speech of people never
    /// heard is worth 10 points over 1.2 s with 10 clips per class (docs/transfer-learning.md). At least 0.782 s (one
    /// window). Models saved before 2 s was the default keep what they saved.</summary>
    public double MinimumDurationSeconds { get; set; } = DefaultMinimumDurationSeconds;

    /// <summary>Where a clip shorter than <see cref="MinimumDurationSeconds"/> sits: in the middle (the default), or at the
    /// start with the silence after it. Centred, several 760 ms windows see a short word whole; at the start, one does,
    /// which costs half the accuracy on short real words (docs/transfer-learning.md). Models saved before this option
    /// load with <see cref="PadAlignment.Start"/>, as they were made.</summary>
    public PadAlignment Pad { get; set; } = PadAlignment.Center;

    /// <summary>Rows read ahead and computed together on the device. Default null: 64 on the CPU, 256 on a GPU (a batch too large
    /// for the device's memory is split).</summary>
    public int? BatchSize { get; set; }

    /// <summary>The default of <see cref="MinimumDurationSeconds"/>.</summary>
    public const double DefaultMinimumDurationSeconds = 2.0;

    internal long MinimumSamples => (long)Math.Round(MinimumDurationSeconds * SpeechEmbeddingFrontEnd.SampleRate);

    internal void Validate()
    {
        if (!Enum.IsDefined(Pooling))
            throw new ArgumentOutOfRangeException(nameof(Pooling), Pooling, $"Pooling must be one of {string.Join(", ", Enum.GetNames<EmbeddingPooling>())}, got: {Pooling}");
        double least = SpeechEmbedding.WindowSamples / (double)SpeechEmbeddingFrontEnd.SampleRate;
        if (!(MinimumDurationSeconds >= least - 1e-9) || MinimumDurationSeconds > 3600)
            throw new ArgumentOutOfRangeException(nameof(MinimumDurationSeconds), MinimumDurationSeconds,
                $"MinimumDurationSeconds must be from {least:F3} (one window) to 3600, got: {MinimumDurationSeconds}");
        if (BatchSize is int batch) Layers.Check.Positive(batch, nameof(BatchSize));
        Layers.Check.Defined(Pad, nameof(Pad));
    }

    internal SpeechEmbedding CreateLayer() => SpeechEmbedding.Pretrained(Pooling, Math.Max(MinimumSamples, SpeechEmbedding.WindowSamples), center: Pad == PadAlignment.Center);

    // *** Binary format of the speech-embedding settings ***
    // int: pooling (EmbeddingPooling)
    // double: minimum duration in seconds
    // int: pad alignment (PadAlignment; from the transform's version 0x00010003, before which clips were padded at their end)
    internal void Save(BinaryWriter writer)
    {
        writer.Write((int)Pooling);
        writer.Write(MinimumDurationSeconds);
        writer.Write((int)Pad);
    }

    internal static SpeechEmbeddingOptions Load(IExceptionContext ectx, BinaryReader reader, bool hasPad)
    {
        var o = new SpeechEmbeddingOptions { Pooling = (EmbeddingPooling)reader.ReadInt32(), MinimumDurationSeconds = reader.ReadDouble() };
        o.Pad = hasPad ? (PadAlignment)reader.ReadInt32() : PadAlignment.Start;
        return OptionChecks.Decoded(ectx, o, v => v.Validate(), "speech-embedding settings");
    }

    internal SpeechEmbeddingOptions Clone() => (SpeechEmbeddingOptions)MemberwiseClone();
}

/// <summary>
/// 16 kHz mono audio to embeddings of Google's pretrained speech embedding model (<see cref="SpeechEmbedding"/>), on the
/// GPU when <see cref="MLContext.GpuDeviceId"/> is set: features for any ML.NET trainer (SDCA, LightGBM, k-means) that
/// separate spoken words from a few examples per class.
/// </summary>
public sealed class SpeechEmbeddingTransformer : GpuAudioTransformerBase
{
    internal const string UserName = "Speech Embedding Transform";
    internal const string LoaderSignature = "SpeechEmbeddingTransform";

    private static readonly VersionInfo s_version = new(
        modelSignature: "SPEECHEM",
        // verWrittenCur: 0x00010001, // Initial
        // verWrittenCur: 0x00010002, // Batch size 0: unset (the common part, as every audio transformer)
        verWrittenCur: 0x00010003, // Pad alignment after the minimum duration
        verReadableCur: 0x00010003,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(SpeechEmbeddingTransformer).Assembly.FullName);

    /// <summary>The first version whose settings end with the pad alignment.</summary>
    private const uint PadVersion = 0x00010003;

    private readonly SpeechEmbeddingOptions _options;

    /// <summary>The settings (a copy).</summary>
    public SpeechEmbeddingOptions Options => _options.Clone();

    internal SpeechEmbeddingTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName, SpeechEmbeddingOptions options)
        : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(SpeechEmbeddingTransformer)), outputColumnName, inputColumnName, options.BatchSize)
    {
        _options = options.Clone();
    }

    // SignatureLoadModel constructor.
    // *** Binary format ***
    // <base: columns and batch size>
    // <speech-embedding settings>
    // The weights are the pretrained ones shipped in the assembly: not stored in the model.
    private SpeechEmbeddingTransformer(IHostEnvironment env, ModelLoadContext ctx) : base(env, ctx, s_version, nameof(SpeechEmbeddingTransformer))
    {
        _options = SpeechEmbeddingOptions.Load(Host, ctx.Reader, ctx.Header.ModelVerWritten >= PadVersion);
        _options.BatchSize = RequestedBatchSize;
    }

    private protected override VersionInfo Version => s_version;

    private protected override void SaveSettings(ModelSaveContext ctx)
    {
        _options.Save(ctx.Writer);
    }

    private protected override string ComponentName => "SpeechEmbedding";

    private protected override bool InputIsSpectrum => false;

    private protected override OutputLayout GetOutputLayout(SignalColumn input)
    {
        CheckInput(Host, input, InputColumnName);
        int size = Layers.SpeechEmbedding.PooledSize(_options.Pooling);
        if (_options.Pooling != EmbeddingPooling.None)
            return new OutputLayout(0, _ => size, new Dictionary<string, int>()) { FixedSize = size };
        // [96, windows], as a spectrogram is [bins, frames].
        long minimum = Math.Max(_options.MinimumSamples, SpeechEmbedding.WindowSamples);
        return new OutputLayout(SpeechEmbeddingNetwork.EmbeddingSize, samples =>
        {
            long frames = SpeechEmbeddingFrontEnd.frame_count(Math.Max(samples, minimum));
            return (int)(1 + (frames - SpeechEmbeddingNetwork.WindowFrames) / SpeechEmbedding.WindowStep);
        }, new Dictionary<string, int>());
    }

    internal static void CheckInput(IExceptionContext ectx, SignalColumn input, string columnName)
    {
        if (input.Channels != 1)
            throw ectx.ExceptSchemaMismatch("inputSchema", "input", columnName, "mono audio (LoadAudio with Mono = true)", $"{input.Channels} channels");
        if (input.SampleRate is int rate && rate != SpeechEmbeddingFrontEnd.SampleRate)
            throw ectx.ExceptSchemaMismatch("inputSchema", "input", columnName, $"audio at {SpeechEmbeddingFrontEnd.SampleRate} Hz (the model's rate; LoadAudio's SampleRate)",
                $"audio at {rate} Hz (its {AudioAnnotationKinds.SampleRate} annotation)");
    }

    private protected override nn.Module<Tensor, Tensor> CreateModule() => new PerRow(_options.CreateLayer());

    /// <summary>The embedding model the transform runs (the ONNX export reads it).</summary>
    internal SpeechEmbedding Embedding => ((PerRow)Module).Embedding;

    /// <summary>(batch, 1, samples) rows to (batch, ...) embeddings; without pooling, (batch, 96, windows).</summary>
    private sealed class PerRow : nn.Module<Tensor, Tensor>
    {
        private readonly SpeechEmbedding embedding;

        public PerRow(SpeechEmbedding embedding) : base("speech_embedding_rows")
        {
            this.embedding = embedding;
            RegisterComponents();
        }

        public SpeechEmbedding Embedding => embedding;

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var y = embedding.call(input.reshape(input.shape[0], input.shape[^1]));
            if (embedding.pooling == EmbeddingPooling.None) y = y.transpose(1, 2);
            return y.contiguous().MoveToOuterDisposeScope();
        }
    }
}

/// <summary>Estimator of <see cref="SpeechEmbeddingTransformer"/>: 16 kHz audio to pretrained speech embeddings.</summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No (pretrained) |
/// | Input column data type | Vector of <xref:System.Single>: 16 kHz mono samples (LoadAudio with SampleRate 16000) |
/// | Output column data type | Vector of <xref:System.Single>: [192] (mean and max), [96] (mean or max) or [96, windows] (no pooling) |
/// | Runs on GPU | Yes, when MLContext.GpuDeviceId is set (CPU otherwise) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet, TorchSharp and a libtorch backend |
/// | Exportable to ONNX | After LoadAudio (16 kHz, mono, fixed length), in a feature chain, with AudioOnnxExport (docs/onnx.md); and with mlContext.Model.ConvertToOnnx |
///
/// The model is Google's speech embedding as converted by openWakeWord (Apache-2.0); its weights ship in the Kapre.MLNet
/// assembly. Pooled embeddings suit any ML.NET trainer: `ml.MulticlassClassification.Trainers.SdcaMaximumEntropy` on
/// them learns spoken words from ten clips per class.
/// ]]></format>
/// </remarks>
public sealed class SpeechEmbeddingEstimator : GpuAudioEstimatorBase<SpeechEmbeddingTransformer>
{
    private readonly SpeechEmbeddingOptions _options;

    internal SpeechEmbeddingEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, SpeechEmbeddingOptions? options)
        : base(env, outputColumnName, inputColumnName)
    {
        _options = (options ?? new SpeechEmbeddingOptions()).Clone();
        _options.Validate();
    }

    private protected override bool InputIsSpectrum => false;

    private protected override bool OutputHasKnownSize => _options.Pooling != EmbeddingPooling.None;

    private protected override IEnumerable<string> OutputAnnotationKinds => _options.Pooling == EmbeddingPooling.None
        ? [AudioAnnotationKinds.ChannelCount, AudioAnnotationKinds.BinCount]
        : [AudioAnnotationKinds.ChannelCount];

    private protected override SpeechEmbeddingTransformer Create(SignalColumn input)
    {
        SpeechEmbeddingTransformer.CheckInput(Env, input, InputColumnName);
        return new(Env, OutputColumnName, InputColumnName, _options);
    }
}
