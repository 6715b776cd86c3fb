using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Training;

[assembly: LoadableClass(typeof(AudioClassificationTransformer), null, typeof(SignatureLoadModel),
    AudioClassificationTransformer.UserName, AudioClassificationTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>
/// A trained audio classifier: scores a spectrogram or audio column with an <see cref="AudioCnn"/> and writes the class
/// probabilities (<c>Score</c>) and the predicted label (<c>PredictedLabel</c>, the training label's key type, so
/// <c>MapKeyToValue</c> gives the class name back). Inference runs in batches on the device chosen from
/// <see cref="MLContext.GpuDeviceId"/> and <see cref="MLContext.FallbackToCpu"/> when the model is created or loaded.
/// </summary>
public sealed class AudioClassificationTransformer : ITransformer, IDisposable, IRowMapperSource
{
    internal const string UserName = "Audio Classification Model";
    internal const string LoaderSignature = "AudioClassifierXf";
    private const string WeightsStream = "Weights.bin";

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "AUDCLASS",
        // verWrittenCur: 0x00010001, // Initial
        // verWrittenCur: 0x00010002, // Backbone (speech embedding) and fine-tuning flag after the selected epoch
        // verWrittenCur: 0x00010003, // BC-ResNet backbone and its size
        // verWrittenCur: 0x00010004, // Where the speech embedding places a short clip
        verWrittenCur: 0x00010005, // How the speech embedding pools its windows
        verReadableCur: 0x00010005,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(AudioClassificationTransformer).Assembly.FullName);

    private readonly IHost _host;
    private readonly nn.Module<Tensor, Tensor> _network;
    private readonly NetworkSettings _settings;
    private readonly string[] _labels;
    private bool _disposed;

    /// <summary>Class names, in key order (key 1 is <c>Labels[0]</c>).</summary>
    public IReadOnlyList<string> Labels => _labels;

    /// <summary>Name of the feature column the model reads.</summary>
    public string FeatureColumnName { get; }

    /// <summary>Name of the class-probabilities column.</summary>
    public string ScoreColumnName { get; }

    /// <summary>Name of the predicted-label column.</summary>
    public string PredictedLabelColumnName { get; }

    /// <summary>The device the network runs on.</summary>
    public Device Device { get; }

    /// <summary>Read ahead while scoring (see <see cref="TorchDevices.ReadsAhead"/>): null for the device's choice.</summary>
    internal bool? ReadAhead { get; set; }

    /// <summary>Metrics of each training epoch (empty for a loaded model).</summary>
    public IReadOnlyList<EpochMetrics> TrainingHistory { get; }

    /// <summary>The epoch whose weights the model holds (the best validation epoch, or the last one); 0 for a fine-tuned
    /// speech embedding whose fitted head no epoch of fine-tuning beat on the validation set.</summary>
    public int SelectedEpoch { get; }

    /// <summary>For a frozen speech embedding fitted here: the λ its logistic-regression head was fitted with (to fit the
    /// same head on more data: <see cref="AudioClassificationOptions.HeadL2Regularization"/>); null otherwise and for a
    /// loaded model.</summary>
    public double? HeadL2Regularization { get; internal init; }

    /// <summary>The convolutional network (in evaluation mode, on <see cref="Device"/>); for inspection, e.g. of a learned
    /// filterbank. Only for models of the <see cref="AudioBackbone.Cnn"/> backbone; <see cref="Module"/> is any model's.</summary>
    public AudioCnn Network => _network as AudioCnn
        ?? throw new InvalidOperationException($"This model's backbone is {_settings.Backbone}, not a CNN: use Module.");

    /// <summary>The whole network, audio or spectrogram to logits (in evaluation mode, on <see cref="Device"/>).</summary>
    public nn.Module<Tensor, Tensor> Module => _network;

    /// <summary>The network the model was built on.</summary>
    public AudioBackbone Backbone => _settings.Backbone;

    /// <summary>What is needed to rebuild the network: saved with the model.</summary>
    internal sealed record NetworkSettings(int Classes, int[] FeatureDimensions, AudioCnnSize Size, double Dropout, bool Augment,
        GpuStftOptions? Stft, GpuMelOptions? Mel, GpuDecibelOptions? Decibel, bool TrainFrontEnd,
        AudioBackbone Backbone = AudioBackbone.Cnn, bool FineTuneBackbone = false, BcResNetSize BcResNetSize = BcResNetSize.Tau1,
        PadAlignment EmbeddingPad = PadAlignment.Start, long EmbeddingMinSamples = NetworkSettings.EarlierEmbeddingMinSamples,
        EmbeddingPooling EmbeddingPooling = EmbeddingPooling.MeanMax)
    {
        /// <summary>New models pool the speech embedding's windows by mean, maximum and standard deviation: on Speech Commands'
        /// speakers never heard that beat mean and maximum by 0.9 points with every clip and 0.7 with 10 per class, and
        /// tied on FSDD (docs/transfer-learning.md). Models saved before pool by mean and maximum.</summary>
        public const EmbeddingPooling SpeechEmbeddingPooling = EmbeddingPooling.MeanMaxStd;

        /// <summary>Models saved before the placement was saved padded clips for the speech embedding to 1.2 s, at the end.</summary>
        public const long EarlierEmbeddingMinSamples = 19200;

        /// <summary>New models centre a clip for the speech embedding in 2 s of silence: on real speech of people never heard
        /// (Speech Commands, FSDD; docs/transfer-learning.md) that beats 1.2 s by 10 points with 10 clips per class.</summary>
        public const long SpeechEmbeddingMinSamples = 32000;

        public nn.Module<Tensor, Tensor> Build() => Backbone switch
        {
            AudioBackbone.SpeechEmbedding => new SpeechEmbeddingClassifier("speech_classifier", Classes, Dropout, EmbeddingMinSamples, EmbeddingPad == PadAlignment.Center, EmbeddingPooling),
            AudioBackbone.BcResNet => new BcResNet("bc_resnet", Classes, InputChannels, BcResNetSize, Dropout, FrontEnd(), SpecAugmentLayer()),
            _ => new AudioCnn("audio_cnn", Classes, InputChannels, Size, Dropout, FrontEnd(), SpecAugmentLayer()),
        };

        public bool HasFrontEnd => Stft is not null;
        public int InputChannels => HasFrontEnd ? (FeatureDimensions.Length == 2 ? FeatureDimensions[0] : 1)
                                                : (FeatureDimensions.Length == 3 ? FeatureDimensions[0] : 1);

        private MelSpectrogram? FrontEnd() => HasFrontEnd
            ? new MelSpectrogram("front_end", Stft!.CreateLayer(), Mel!.CreateLayer(TrainFrontEnd), Decibel?.CreateLayer())
            : null;

        private SpecAugment? SpecAugmentLayer() => Augment
            ? AudioLayers.SpecAugment(2, Math.Max(1, MelBins() / 8), 2, Math.Max(1, FramesOf() / 10))
            : null;

        private int MelBins() => HasFrontEnd ? Mel!.MelBinCount : FeatureDimensions[^2];

        private int FramesOf() => HasFrontEnd
            ? (int)Functional.frame_count(FeatureDimensions[^1], Stft!.FftLength, Stft.EffectiveHopLength, Stft.EffectiveWindowLength, Stft.EffectiveFraming)
            : FeatureDimensions[^1];
    }

    internal AudioClassificationTransformer(IHost host, nn.Module<Tensor, Tensor> network, NetworkSettings settings, string[] labels, string featureColumnName,
        string scoreColumnName, string predictedLabelColumnName, Device device, IReadOnlyList<EpochMetrics> history, int selectedEpoch)
    {
        _host = host;
        _network = network;
        _settings = settings;
        _labels = labels;
        FeatureColumnName = featureColumnName;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
        Device = device;
        TrainingHistory = history;
        SelectedEpoch = selectedEpoch;
        _network.eval();
    }

    // Factory method for SignatureLoadModel.
    private static AudioClassificationTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        var host = env.Register(nameof(AudioClassificationTransformer));
        ctx.CheckAtModel(GetVersionInfo());

        // *** Binary format ***
        // string: feature column, string: score column, string: predicted label column
        // int: classes, then that many strings: class names
        // int: rank (1..3), then rank ints: feature dimensions
        // int: network size (AudioCnnSize), double: dropout, byte: augmentation layer present
        // byte: front end present; if so <STFT settings> <mel settings> byte: dB present [<decibel settings>] byte: trainable filterbank
        // int: selected epoch
        // since 0x00010002: int: backbone (AudioBackbone), byte: backbone fine-tuned
        // since 0x00010003: int: BC-ResNet size (BcResNetSize; written for every backbone)
        // since 0x00010004: int: where the speech embedding places a short clip (PadAlignment), long: the length it pads
        //                   to (both written for every backbone; earlier models padded to 19,200 samples at the end)
        // since 0x00010005: int: how the speech embedding pools its windows (EmbeddingPooling; written for every backbone;
        //                   earlier models pooled by mean and maximum)
        // stream Weights.bin: <ModelWeights>
        string features = ctx.LoadNonEmptyString(), score = ctx.LoadNonEmptyString(), predicted = ctx.LoadNonEmptyString();
        int classes = ctx.Reader.ReadInt32();
        host.CheckDecode(classes >= 2 && classes <= 100_000, "The model declares an impossible number of classes.");
        var labels = new string[classes];
        for (int i = 0; i < classes; i++) labels[i] = ctx.LoadString();
        int rank = ctx.Reader.ReadInt32();
        host.CheckDecode(rank is >= 1 and <= 3, "The model declares features of an impossible rank.");
        var dims = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            dims[i] = ctx.Reader.ReadInt32();
            host.CheckDecode(dims[i] > 0 && dims[i] <= 1 << 26, "The model declares an impossible feature dimension.");
        }
        host.CheckDecode(dims.Aggregate(1L, (a, b) => a * b) <= int.MaxValue, "The model declares features larger than a vector can hold.");
        var size = (AudioCnnSize)ctx.Reader.ReadInt32();
        host.CheckDecode(Enum.IsDefined(size), "The model declares an unknown network size.");
        double dropout = ctx.Reader.ReadDouble();
        host.CheckDecode(dropout >= 0 && dropout < 1);
        bool augment = ctx.Reader.ReadByte() == 1;
        GpuStftOptions? stft = null; GpuMelOptions? mel = null; GpuDecibelOptions? db = null; bool trainFrontEnd = false;
        if (ctx.Reader.ReadByte() == 1)
        {
            stft = GpuStftOptions.Load(host, ctx.Reader);
            mel = GpuMelOptions.Load(host, ctx.Reader);
            if (ctx.Reader.ReadByte() == 1) db = GpuDecibelOptions.Load(host, ctx.Reader);
            trainFrontEnd = ctx.Reader.ReadByte() == 1;
            host.CheckDecode(dims.Length is 1 or 2, "A model with a front end needs audio features [samples] or [channels, samples].");
        }
        int selected = ctx.Reader.ReadInt32();
        var backbone = AudioBackbone.Cnn;
        bool fineTune = false;
        if (ctx.Header.ModelVerWritten >= 0x00010002)
        {
            backbone = (AudioBackbone)ctx.Reader.ReadInt32();
            host.CheckDecode(Enum.IsDefined(backbone), "The model declares an unknown backbone.");
            fineTune = ctx.Reader.ReadByte() == 1;
            host.CheckDecode(backbone != AudioBackbone.SpeechEmbedding || (stft is null && dims.Length == 1), "A speech-embedding model needs audio features [samples] and no front end.");
        }
        var bcSize = BcResNetSize.Tau1;
        if (ctx.Header.ModelVerWritten >= 0x00010003)
        {
            bcSize = (BcResNetSize)ctx.Reader.ReadInt32();
            host.CheckDecode(Enum.IsDefined(bcSize), "The model declares an unknown BC-ResNet size.");
        }
        var embeddingPad = PadAlignment.Start;
        long embeddingMinSamples = NetworkSettings.EarlierEmbeddingMinSamples;
        if (ctx.Header.ModelVerWritten >= 0x00010004)
        {
            embeddingPad = (PadAlignment)ctx.Reader.ReadInt32();
            host.CheckDecode(Enum.IsDefined(embeddingPad), "The model declares an unknown placement of short clips.");
            embeddingMinSamples = ctx.Reader.ReadInt64();
            host.CheckDecode(embeddingMinSamples >= SpeechEmbedding.WindowSamples && embeddingMinSamples <= int.MaxValue, "The model declares an impossible padded length.");
        }
        var embeddingPooling = EmbeddingPooling.MeanMax;
        if (ctx.Header.ModelVerWritten >= 0x00010005)
        {
            embeddingPooling = (EmbeddingPooling)ctx.Reader.ReadInt32();
            host.CheckDecode(Enum.IsDefined(embeddingPooling) && embeddingPooling != EmbeddingPooling.None, "The model declares an unknown pooling of the speech embedding.");
        }
        if (backbone != AudioBackbone.SpeechEmbedding && stft is null)
            host.CheckDecode(dims.Length is 2 or 3, "A model without a front end needs spectrogram features [mels, frames] or [channels, mels, frames].");

        var settings = new NetworkSettings(classes, dims, size, dropout, augment, stft, mel, db, trainFrontEnd, backbone, fineTune, bcSize, embeddingPad, embeddingMinSamples, embeddingPooling);
        var network = settings.Build();
        try
        {
            if (!ctx.TryLoadBinaryStream(WeightsStream, r => ModelWeights.Load(r, network)))
                throw new InvalidDataException($"The model has no {WeightsStream} stream.");
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            network.Dispose();
            throw host.ExceptDecode(e, $"Cannot load the audio classifier's weights: {e.Message}");
        }
        var device = TorchDevices.Resolve(host, "AudioClassification");
        if (device.type != DeviceType.CPU) network.to(device);
        return new AudioClassificationTransformer(host, network, settings, labels, features, score, predicted, device, [], selected);
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        _host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveNonEmptyString(FeatureColumnName);
        ctx.SaveNonEmptyString(ScoreColumnName);
        ctx.SaveNonEmptyString(PredictedLabelColumnName);
        ctx.Writer.Write(_labels.Length);
        foreach (var label in _labels) ctx.SaveString(label);
        ctx.Writer.Write(_settings.FeatureDimensions.Length);
        foreach (int d in _settings.FeatureDimensions) ctx.Writer.Write(d);
        ctx.Writer.Write((int)_settings.Size);
        ctx.Writer.Write(_settings.Dropout);
        ctx.Writer.Write((byte)(_settings.Augment ? 1 : 0));
        ctx.Writer.Write((byte)(_settings.HasFrontEnd ? 1 : 0));
        if (_settings.HasFrontEnd)
        {
            _settings.Stft!.Save(ctx.Writer);
            _settings.Mel!.Save(ctx.Writer);
            ctx.Writer.Write((byte)(_settings.Decibel is null ? 0 : 1));
            _settings.Decibel?.Save(ctx.Writer);
            ctx.Writer.Write((byte)(_settings.TrainFrontEnd ? 1 : 0));
        }
        ctx.Writer.Write(SelectedEpoch);
        ctx.Writer.Write((int)_settings.Backbone);
        ctx.Writer.Write((byte)(_settings.FineTuneBackbone ? 1 : 0));
        ctx.Writer.Write((int)_settings.BcResNetSize);
        ctx.Writer.Write((int)_settings.EmbeddingPad);
        ctx.Writer.Write(_settings.EmbeddingMinSamples);
        ctx.Writer.Write((int)_settings.EmbeddingPooling);
        ctx.SaveBinaryStream(WeightsStream, w => ModelWeights.Save(w, _network));
    }

    /// <summary>Checks the feature column: a vector of Single with the training dimensions.</summary>
    internal int FeatureIndex(DataViewSchema schema)
    {
        var col = schema.GetColumnOrNull(FeatureColumnName) ?? throw _host.ExceptSchemaMismatch(nameof(schema), "feature", FeatureColumnName);
        string expected = $"vector of Single [{string.Join(", ", _settings.FeatureDimensions)}]";
        if (col.Type is not VectorDataViewType vt || vt.ItemType != NumberDataViewType.Single || vt.Size != _settings.FeatureDimensions.Aggregate(1, (a, b) => a * b))
            throw _host.ExceptSchemaMismatch(nameof(schema), "feature", FeatureColumnName, expected, col.Type.ToString());
        if (_settings.Backbone == AudioBackbone.SpeechEmbedding && SignalColumn.Describe(_host, schema, FeatureColumnName, spectrum: false).SampleRate is int sr
            && sr != SpeechEmbeddingFrontEnd.SampleRate)
            throw _host.ExceptSchemaMismatch(nameof(schema), "feature", FeatureColumnName, $"audio at {SpeechEmbeddingFrontEnd.SampleRate} Hz", $"audio at {sr} Hz");
        if (_settings.HasFrontEnd && SignalColumn.Describe(_host, schema, FeatureColumnName, spectrum: false).SampleRate is int rate && rate != _settings.Mel!.SampleRate)
            throw _host.ExceptSchemaMismatch(nameof(schema), "feature", FeatureColumnName, $"audio at {_settings.Mel.SampleRate} Hz", $"audio at {rate} Hz");
        return col.Index;
    }

    private DataViewSchema.DetachedColumn[] OutputColumns()
    {
        var names = new VBuffer<ReadOnlyMemory<char>>(_labels.Length, _labels.Select(l => l.AsMemory()).ToArray());
        var score = new DataViewSchema.Annotations.Builder();
        score.AddSlotNames(_labels.Length, (ref VBuffer<ReadOnlyMemory<char>> dst) => names.CopyTo(ref dst));
        score.Add(AnnotationUtils.Kinds.ScoreColumnKind, TextDataViewType.Instance,
            (ref ReadOnlyMemory<char> dst) => dst = AnnotationUtils.Const.ScoreColumnKind.MulticlassClassification.AsMemory());
        score.Add(AnnotationUtils.Kinds.ScoreValueKind, TextDataViewType.Instance,
            (ref ReadOnlyMemory<char> dst) => dst = AnnotationUtils.Const.ScoreValueKind.Score.AsMemory());
        var keyValues = new DataViewSchema.Annotations.Builder();
        keyValues.AddKeyValues(_labels.Length, TextDataViewType.Instance, (ref VBuffer<ReadOnlyMemory<char>> dst) => names.CopyTo(ref dst));
        return
        [
            new DataViewSchema.DetachedColumn(ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, _labels.Length), score.ToAnnotations()),
            new DataViewSchema.DetachedColumn(PredictedLabelColumnName, new KeyDataViewType(typeof(uint), _labels.Length), keyValues.ToAnnotations()),
        ];
    }

    /// <summary>Class probabilities for a batch of feature vectors.</summary>
    internal void Score(VBuffer<float>[] inputs, int count, RowResult[] results)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var rows = Enumerable.Range(0, count).Where(i => results[i].Error is null).ToArray();
        if (rows.Length == 0) return;
        int size = _settings.FeatureDimensions.Aggregate(1, (a, b) => a * b);
        var batch = new float[(long)rows.Length * size];
        for (int k = 0; k < rows.Length; k++)
        {
            ref var v = ref inputs[rows[k]];
            if (v.Length != size)
            {
                results[rows[k]] = RowResult.Failed(new InvalidOperationException(
                    $"AudioClassification: column '{FeatureColumnName}' holds {v.Length} values in this row, not {size}."));
                continue;
            }
            v.CopyTo(batch.AsSpan(k * size, size));
        }
        var output = new float[(long)rows.Length * _labels.Length];
        long[] dims = [.. _settings.FeatureDimensions.Select(d => (long)d)];
        try
        {
            DeviceMemory.RunSplitting(rows.Length, (start, n) =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                var x = TensorCopy.FromArray(start == 0 && n == rows.Length ? batch : batch.AsSpan(start * size, n * size).ToArray(), [n, .. dims], Device);
                TensorCopy.CopyTo(nn.functional.softmax(_network.call(x), 1), output, (long)start * _labels.Length);
            });
        }
        catch (Exception e) when (DeviceMemory.IsRowDataError(e))
        {
            foreach (int r in rows)
                if (results[r].Error is null)
                    results[r] = RowResult.Failed(new InvalidOperationException($"AudioClassification: cannot score column '{FeatureColumnName}': {e.Message}", e));
            return;
        }
        for (int k = 0; k < rows.Length; k++)
            if (results[rows[k]].Error is null)
                results[rows[k]] = new RowResult(output, k * _labels.Length, _labels.Length, null);
    }

    private static Delegate PredictedLabelGetter(Func<RowResult> current)
    {
        ValueGetter<uint> getter = (ref uint dst) =>
        {
            var r = current();
            var scores = default(VBuffer<float>);
            r.CopyTo(ref scores); // throws the row's error, if any
            var values = scores.GetValues();
            int best = 0;
            for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
            dst = (uint)(best + 1);
        };
        return getter;
    }

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        return RowToRowMapperTransform.GetOutputSchema(inputSchema, new Mapper(this, inputSchema));
    }

    /// <summary>Scores lazily, in batches of the training batch size, as cursors move.</summary>
    public IDataView Transform(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        FeatureIndex(input.Schema);
        var columns = OutputColumns();
        return new BatchingDataView<VBuffer<float>>(input, FeatureColumnName, columns[0], BatchSize,
            (inputs, _, count, results, _) => Score(inputs, count, results), new Step(this, columns[0].Type, columns[1].Type),
            TorchDevices.ReadsAhead(Device, ReadAhead), new DerivedColumn(columns[1], PredictedLabelGetter));
    }

    private const int BatchSize = 32;

    /// <summary>The classifier in a data pipe: saved as the transformer, converted to ONNX by AudioOnnxExport's forms.</summary>
    private sealed class Step(AudioClassificationTransformer parent, DataViewType scoreType, DataViewType labelType) : IDataPipeStep
    {
        public void Save(ModelSaveContext ctx) => ((ICanSaveModel)parent).Save(ctx);

        public bool CanSaveOnnx(Microsoft.ML.Model.OnnxConverter.OnnxContext ctx) => Onnx.AudioOnnxExport.CanConvert(parent);

        public void SaveAsOnnx(Microsoft.ML.Model.OnnxConverter.OnnxContext ctx) => Onnx.AudioOnnxExport.Convert(ctx, parent, scoreType, labelType);
    }

    /// <summary>The feature column's dimensions the network was trained on.</summary>
    internal int[] FeatureDimensions => _settings.FeatureDimensions;

    bool ITransformer.IsRowToRowMapper => true;

    IRowToRowMapper ITransformer.GetRowToRowMapper(DataViewSchema inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        return AudioTransformLoaders.Wrap(_host, new EmptyDataView(_host, inputSchema), this);
    }

    IRowMapper IRowMapperSource.MakeRowMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    /// <summary>Frees the network.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _network.Dispose();
    }

    /// <summary>Single-row mapper: what PredictionEngine uses.</summary>
    private sealed class Mapper : IRowMapper
    {
        private readonly AudioClassificationTransformer _parent;
        private readonly int _featureIndex;
        private readonly DataViewSchema.DetachedColumn[] _outputs;

        public Mapper(AudioClassificationTransformer parent, DataViewSchema inputSchema)
        {
            _parent = parent;
            _featureIndex = parent.FeatureIndex(inputSchema);
            _outputs = parent.OutputColumns();
        }

        public DataViewSchema.DetachedColumn[] GetOutputColumns() => _outputs;

        public Func<int, bool> GetDependencies(Func<int, bool> activeOutput)
        {
            bool active = activeOutput(0) || activeOutput(1);
            return col => active && col == _featureIndex;
        }

        public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action? disposer)
        {
            disposer = null;
            var getters = new Delegate[2];
            if (!activeOutput(0) && !activeOutput(1)) return getters;
            var source = input.GetGetter<VBuffer<float>>(input.Schema[_featureIndex]);
            var inputs = new VBuffer<float>[1];
            var results = new RowResult[1];
            long cached = -1;
            RowResult Current()
            {
                if (cached != input.Position)
                {
                    results[0] = default;
                    try { source(ref inputs[0]); }
                    catch (Exception e) when (e is not OutOfMemoryException) { results[0] = RowResult.Failed(e); }
                    _parent.Score(inputs, 1, results);
                    cached = input.Position;
                }
                return results[0];
            }
            if (activeOutput(0))
            {
                ValueGetter<VBuffer<float>> score = (ref VBuffer<float> dst) => Current().CopyTo(ref dst);
                getters[0] = score;
            }
            if (activeOutput(1)) getters[1] = PredictedLabelGetter(Current);
            return getters;
        }

        public ITransformer GetTransformer() => _parent;

        void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_parent).Save(ctx);
    }
}
