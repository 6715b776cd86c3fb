using System.Diagnostics;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>
/// Trains an audio classifier (<see cref="AudioCnn"/>, TorchSharp) on a spectrogram column or, Kapre's way, on raw audio
/// with the front end as the network's first layers.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Trainer Characteristics
/// |  |  |
/// | -- | -- |
/// | Machine learning task | Multiclass classification |
/// | Is normalization required? | No (the network learns its input scaling) |
/// | Is caching required? | No (the training data is read once into memory) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet, TorchSharp and a libtorch backend |
/// | Runs on GPU | Yes, when MLContext.GpuDeviceId is set (CPU otherwise) |
/// | Exportable to ONNX | No |
///
/// Training: AdamW with a cosine-annealed learning rate, cross-entropy with label smoothing, augmentation (time shift,
/// gain, SpecAugment), seeded from the MLContext seed so a CPU run repeats exactly. Each epoch's loss, accuracy,
/// validation accuracy and time go to the MLContext log and progress channels. With a validation set, the best
/// epoch's weights are kept and training stops early.
/// ]]></format>
/// </remarks>
public sealed class AudioClassificationTrainer : IEstimator<AudioClassificationTransformer>
{
    private readonly IHost _host;
    private readonly AudioClassificationOptions _options;

    internal AudioClassificationTrainer(IHostEnvironment env, AudioClassificationOptions options)
    {
        _host = Contracts.CheckRef(env, nameof(env)).Register(nameof(AudioClassificationTrainer));
        _options = Contracts.CheckRef(options, nameof(options)).Clone();
        _options.Validate();
    }

    /// <summary>Trains on <paramref name="input"/>, validating on <see cref="AudioClassificationOptions.ValidationSet"/> if set.</summary>
    public AudioClassificationTransformer Fit(IDataView input) => Fit(input, _options.ValidationSet);

    /// <summary>Trains on <paramref name="trainData"/>, validating on <paramref name="validationData"/> after each epoch.</summary>
    public AudioClassificationTransformer Fit(IDataView trainData, IDataView? validationData)
    {
        _host.CheckValue(trainData, nameof(trainData));
        var o = _options;
        var (labels, dims) = CheckSchema(trainData.Schema);
        if (validationData is not null)
        {
            var (vLabels, vDims) = CheckSchema(validationData.Schema);
            if (!vDims.SequenceEqual(dims))
                throw _host.ExceptSchemaMismatch(nameof(validationData), "feature", o.FeatureColumnName, $"vector of Single [{string.Join(", ", dims)}] as in the training data", $"[{string.Join(", ", vDims)}]");
            if (vLabels.Length != labels.Length)
                throw _host.ExceptSchemaMismatch(nameof(validationData), "label", o.LabelColumnName, $"key type of {labels.Length} values as in the training data", $"{vLabels.Length} values");
        }

        using var ch = _host.Start("TrainModel");
        using var pch = _host.StartProgressChannel("Training audio classifier");
        var train = ReadExamples(trainData, dims, "training");
        var valid = validationData is null ? null : ReadExamples(validationData, dims, "validation");
        ch.Info($"AudioClassification: {train.Count} training examples, {labels.Length} classes, features [{string.Join(", ", dims)}]" +
                (valid is null ? "" : $", {valid.Count} validation examples") + ".");

        var device = TorchDevices.Resolve(_host, "AudioClassification");
        int seed = (_host as IHostEnvironmentInternal)?.Seed ?? 1;
        random.manual_seed(seed);
        if (device.type == DeviceType.CUDA) cuda.manual_seed_all(seed);
        var rng = new Random(seed);

        var settings = NetworkSettingsFor(labels.Length, dims, trainData.Schema);
        var network = settings.Build();
        if (device.type != DeviceType.CPU) network.to(device);
        var history = new List<EpochMetrics>();
        int selected = o.Epochs;
        try
        {
            // What is trained, on what: the whole network on the rows, or, with a frozen pretrained backbone, its head on
            // embeddings computed once (seconds instead of a backbone pass per example per epoch).
            var trainable = network;
            var inputDims = dims;
            bool augmentAudio = o.FrontEnd is not null || settings.Backbone == AudioBackbone.SpeechEmbedding;
            bool augment = o.Augment;
            if (network is SpeechEmbeddingClassifier classifier)
            {
                if (!o.FineTuneBackbone)
                {
                    var watch = Stopwatch.StartNew();
                    train = Embed(classifier.Backbone, train, dims, device);
                    if (valid is not null) valid = Embed(classifier.Backbone, valid, dims, device);
                    ch.Info($"AudioClassification: embedded {train.Count + (valid?.Count ?? 0)} clips with the frozen speech embedding in {watch.Elapsed.TotalSeconds:F1} s; training its head.");
                    trainable = classifier.Classifier;
                    inputDims = [train.Size];
                    augment = false;
                }
                foreach (var p in classifier.Backbone.parameters()) p.requires_grad_(o.FineTuneBackbone);
            }
            using var optimizer = network is SpeechEmbeddingClassifier fine && o.FineTuneBackbone
                ? new HeldScalarAdamW([
                      new AdamW.ParamGroup(fine.Backbone.parameters(), lr: o.LearningRate * FineTuneLearningRateScale, weight_decay: o.WeightDecay),
                      new AdamW.ParamGroup(fine.Classifier.parameters(), lr: o.LearningRate, weight_decay: o.WeightDecay)],
                      o.LearningRate, o.WeightDecay)
                : new HeldScalarAdamW(trainable.parameters(), o.LearningRate, o.WeightDecay);
            var schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, o.Epochs);
            Dictionary<string, Tensor>? best = null;
            double bestAccuracy = -1, bestLoss = double.MaxValue;
            int sinceBest = 0;

            int epoch = 0;
            pch.SetHeader(new ProgressHeader(["Loss", "Accuracy"], ["Epoch"]), e =>
            {
                e.SetProgress(0, epoch, o.Epochs);
                if (history.Count > 0) { e.SetMetric(0, history[^1].Loss); e.SetMetric(1, history[^1].Accuracy); }
            });
            for (epoch = 1; epoch <= o.Epochs; epoch++)
            {
                var watch = Stopwatch.StartNew();
                var (loss, accuracy) = TrainEpoch(trainable, optimizer, train, inputDims, device, rng, augment, augmentAudio);
                schedule.step();
                double? vAcc = null, vLoss = null;
                if (valid is not null)
                {
                    (vLoss, vAcc) = Evaluate(trainable, valid, inputDims, device);
                }
                watch.Stop();
                var metrics = new EpochMetrics(epoch, loss, accuracy, vAcc, vLoss, watch.Elapsed.TotalSeconds);
                history.Add(metrics);
                ch.Info($"Epoch {epoch}/{o.Epochs}: loss {loss:F4}, accuracy {accuracy:P1}" +
                        (vAcc is double va ? $", validation accuracy {va:P1}, validation loss {vLoss:F4}" : "") + $", {metrics.Seconds:F1} s");
                pch.Checkpoint(loss, accuracy, epoch);

                if (valid is null) continue;
                if (vAcc > bestAccuracy || (vAcc == bestAccuracy && vLoss < bestLoss))
                {
                    bestAccuracy = vAcc!.Value;
                    bestLoss = vLoss!.Value;
                    selected = epoch;
                    sinceBest = 0;
                    DisposeAll(best);
                    best = trainable.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().clone());
                }
                else if (o.EarlyStoppingPatience > 0 && ++sinceBest >= o.EarlyStoppingPatience)
                {
                    ch.Info($"Stopping early: no better validation accuracy for {o.EarlyStoppingPatience} epochs; keeping epoch {selected} ({bestAccuracy:P1}).");
                    break;
                }
            }
            foreach (var p in network.parameters()) p.requires_grad_(true);
            if (best is not null)
            {
                using (no_grad())
                    foreach (var (name, value) in trainable.state_dict()) value.copy_(best[name]);
                DisposeAll(best);
                if (selected != history.Count) ch.Info($"Restored the weights of epoch {selected}, the best on the validation set ({bestAccuracy:P1}).");
            }
            else
            {
                selected = history.Count;
            }
        }
        catch
        {
            network.Dispose();
            throw;
        }
        return new AudioClassificationTransformer(_host, network, settings, labels, o.FeatureColumnName, o.ScoreColumnName,
            o.PredictedLabelColumnName, device, history, selected);
    }

    private static void DisposeAll(Dictionary<string, Tensor>? tensors)
    {
        if (tensors is null) return;
        foreach (var t in tensors.Values) t.Dispose();
    }

    private AudioClassificationTransformer.NetworkSettings NetworkSettingsFor(int classes, int[] dims, DataViewSchema schema)
    {
        var o = _options;
        if (o.Backbone == AudioBackbone.SpeechEmbedding)
        {
            var column = SignalColumn.Describe(_host, schema, o.FeatureColumnName, spectrum: false);
            if (column.SampleRate is int rate && rate != Layers.SpeechEmbeddingFrontEnd.SampleRate)
                throw _host.ExceptSchemaMismatch(nameof(schema), "feature", o.FeatureColumnName,
                    $"audio at {Layers.SpeechEmbeddingFrontEnd.SampleRate} Hz for the speech embedding (LoadAudio's SampleRate)", $"audio at {rate} Hz");
            return new(classes, dims, o.NetworkSize, o.Dropout, o.Augment, null, null, null, false, AudioBackbone.SpeechEmbedding, o.FineTuneBackbone);
        }
        if (o.FrontEnd is null)
            return new(classes, dims, o.NetworkSize, o.Dropout, o.Augment, null, null, null, false);
        var audio = SignalColumn.Describe(_host, schema, o.FeatureColumnName, spectrum: false);
        var mel = o.FrontEnd.Mel;
        mel.SampleRate = audio.ResolveSampleRate(_host, o.FeatureColumnName, o.FrontEnd.SampleRate, "FrontEnd.SampleRate");
        mel.Validate();
        var stft = o.FrontEnd.Stft;
        if (Layers.Functional.frame_count(dims[^1], stft.FftLength, stft.EffectiveHopLength, stft.EffectiveWindowLength, stft.EffectiveFraming) < 1)
            throw _host.ExceptSchemaMismatch(nameof(schema), "feature", o.FeatureColumnName, $"at least one STFT frame of {stft.EffectiveWindowLength} samples", $"{dims[^1]} samples");
        return new(classes, dims, o.NetworkSize, o.Dropout, o.Augment, stft, mel, o.FrontEnd.ToDecibel ? o.FrontEnd.Decibel : null, o.TrainFrontEnd);
    }

    /// <summary>Checks label and feature columns; returns the class names and the feature dimensions.</summary>
    private (string[] labels, int[] dims) CheckSchema(DataViewSchema schema)
    {
        var o = _options;
        var label = schema.GetColumnOrNull(o.LabelColumnName) ?? throw _host.ExceptSchemaMismatch(nameof(schema), "label", o.LabelColumnName);
        if (label.Type is not KeyDataViewType key || key.Count < 2 || key.Count > 100_000)
            throw _host.ExceptSchemaMismatch(nameof(schema), "label", o.LabelColumnName,
                "key type with 2 or more values (use mlContext.Transforms.Conversion.MapValueToKey)", label.Type.ToString());
        var labels = KeyNames(label, (int)key.Count);

        var features = schema.GetColumnOrNull(o.FeatureColumnName) ?? throw _host.ExceptSchemaMismatch(nameof(schema), "feature", o.FeatureColumnName);
        string expected = o.Backbone == AudioBackbone.SpeechEmbedding
            ? "known-size vector of Single with dimensions [samples]: 16 kHz mono audio (LoadAudio with SampleRate 16000 and DurationSeconds)"
            : o.FrontEnd is null
            ? "known-size vector of Single with dimensions [mels, frames] or [channels, mels, frames] (e.g. from MelSpectrogramGpu)"
            : "known-size vector of Single with dimensions [samples] or [channels, samples] (e.g. from LoadAudio with DurationSeconds)";
        if (features.Type is not VectorDataViewType vt || vt.ItemType != NumberDataViewType.Single || !vt.IsKnownSize)
            throw _host.ExceptSchemaMismatch(nameof(schema), "feature", o.FeatureColumnName, expected, features.Type.ToString());
        var dims = vt.Dimensions.ToArray();
        bool ok = o.Backbone == AudioBackbone.SpeechEmbedding ? dims.Length == 1 : o.FrontEnd is null ? dims.Length is 2 or 3 : dims.Length is 1 or 2;
        if (!ok)
            throw _host.ExceptSchemaMismatch(nameof(schema), "feature", o.FeatureColumnName, expected, $"{vt} with dimensions [{string.Join(", ", dims)}]");
        return (labels, dims);
    }

    private static string[] KeyNames(DataViewSchema.Column label, int count)
    {
        var names = Enumerable.Range(1, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var kv = label.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues);
        if (kv is DataViewSchema.Column c && c.Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            var values = default(VBuffer<ReadOnlyMemory<char>>);
            label.Annotations.GetValue(AnnotationUtils.Kinds.KeyValues, ref values);
            var dense = values.DenseValues().Select(v => v.ToString()).ToArray();
            if (dense.Length == count) names = dense;
        }
        return names;
    }

    private sealed record Examples(float[] Features, long[] Labels, int Size)
    {
        public int Count => Labels.Length;
    }

    /// <summary>Reads every row's features and label into memory (one pass).</summary>
    private Examples ReadExamples(IDataView data, int[] dims, string what)
    {
        var o = _options;
        int size = dims.Aggregate(1, (a, b) => a * b);
        var features = new List<float[]>();
        var labels = new List<long>();
        var fCol = data.Schema[o.FeatureColumnName];
        var lCol = data.Schema[o.LabelColumnName];
        using (var cursor = data.GetRowCursor([fCol, lCol]))
        {
            var fGet = cursor.GetGetter<VBuffer<float>>(fCol);
            var lGet = cursor.GetGetter<uint>(lCol);
            var v = default(VBuffer<float>);
            uint key = 0;
            while (cursor.MoveNext())
            {
                _host.CheckAlive();
                lGet(ref key);
                if (key == 0)
                    throw new InvalidOperationException($"AudioClassification: {what} row {cursor.Position} has a missing label (a value that column '{o.LabelColumnName}' does not know).");
                fGet(ref v);
                var dense = new float[size];
                v.CopyTo(dense);
                features.Add(dense);
                labels.Add(key - 1);
            }
        }
        if (labels.Count == 0) throw new InvalidOperationException($"AudioClassification: the {what} data has no rows.");
        var all = new float[(long)features.Count * size];
        for (int i = 0; i < features.Count; i++) features[i].CopyTo(all, (long)i * size);
        return new Examples(all, [.. labels], size);
    }

    private static Tensor Batch(Examples data, int[] rows, int[] dims, Device device)
    {
        var buffer = new float[(long)rows.Length * data.Size];
        for (int k = 0; k < rows.Length; k++)
            Array.Copy(data.Features, (long)rows[k] * data.Size, buffer, (long)k * data.Size, data.Size);
        return tensor(buffer, [rows.Length, .. dims.Select(d => (long)d)], device: device);
    }

    /// <summary>Learning rate of a fine-tuned pretrained backbone, relative to the head's.</summary>
    private const double FineTuneLearningRateScale = 0.1;

    /// <summary>Each example's pooled embedding, computed once with the frozen backbone (batches of 64, no gradient).</summary>
    private static Examples Embed(Layers.SpeechEmbedding backbone, Examples audio, int[] dims, Device device)
    {
        backbone.eval();
        int size = backbone.output_size;
        var features = new float[(long)audio.Count * size];
        using var _ = no_grad();
        for (int start = 0; start < audio.Count; start += 64)
        {
            int n = Math.Min(64, audio.Count - start);
            using var scope = NewDisposeScope();
            var x = Batch(audio, [.. Enumerable.Range(start, n)], dims, device);
            var y = backbone.call(x.reshape(n, x.shape[^1]));
            TensorCopy.CopyTo(y, features, (long)start * size);
        }
        return new Examples(features, audio.Labels, size);
    }

    private (double loss, double accuracy) TrainEpoch(nn.Module<Tensor, Tensor> network, optim.Optimizer optimizer, Examples data, int[] dims, Device device,
        Random rng, bool augment, bool augmentAudio)
    {
        var o = _options;
        network.train();
        var order = Enumerable.Range(0, data.Count).ToArray();
        rng.Shuffle(order);
        double lossSum = 0;
        long correct = 0;
        for (int start = 0; start < order.Length; start += o.BatchSize)
        {
            _host.CheckAlive();
            var rows = order[start..Math.Min(order.Length, start + o.BatchSize)];
            if (rows.Length < 2 && order.Length >= 2) continue; // BatchNorm needs two examples; the row is seen next epoch
            using var scope = NewDisposeScope();
            var x = Batch(data, rows, dims, device);
            if (augment) x = AugmentBatch(x, augmentAudio, rng);
            var y = tensor(rows.Select(r => data.Labels[r]).ToArray(), device: device);
            optimizer.zero_grad();
            var logits = network.call(x);
            var loss = nn.functional.cross_entropy(logits, y, label_smoothing: o.LabelSmoothing);
            loss.backward();
            optimizer.step();
            lossSum += loss.item<float>() * rows.Length;
            correct += logits.argmax(1).eq(y).sum().item<long>();
        }
        return (lossSum / data.Count, (double)correct / data.Count);
    }

    /// <summary>Random circular time shift of up to 10% of the clip per batch, and, for audio, a random gain of ±6 dB per example.</summary>
    private static Tensor AugmentBatch(Tensor x, bool audio, Random rng)
    {
        long length = x.shape[^1];
        long maxShift = Math.Max(1, length / 10);
        long shift = rng.NextInt64(-maxShift, maxShift + 1);
        if (shift != 0) x = x.roll(shift, -1);
        if (audio)
        {
            var shape = new long[x.dim()];
            Array.Fill(shape, 1L);
            shape[0] = x.shape[0];
            // Gains drawn on the host: no temporary TorchSharp scalars in the training loop.
            var gains = new float[x.shape[0]];
            for (int i = 0; i < gains.Length; i++) gains[i] = (float)Math.Pow(10, (rng.NextDouble() * 12 - 6) / 20);
            x = x * tensor(gains, shape, device: x.device);
        }
        return x;
    }

    private (double loss, double accuracy) Evaluate(nn.Module<Tensor, Tensor> network, Examples data, int[] dims, Device device)
    {
        network.eval();
        double lossSum = 0;
        long correct = 0;
        using var _ = no_grad();
        for (int start = 0; start < data.Count; start += _options.BatchSize)
        {
            var rows = Enumerable.Range(start, Math.Min(_options.BatchSize, data.Count - start)).ToArray();
            using var scope = NewDisposeScope();
            var logits = network.call(Batch(data, rows, dims, device));
            var y = tensor(rows.Select(r => data.Labels[r]).ToArray(), device: device);
            lossSum += nn.functional.cross_entropy(logits, y).item<float>() * rows.Length;
            correct += logits.argmax(1).eq(y).sum().item<long>();
        }
        return (lossSum / data.Count, (double)correct / data.Count);
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        var o = _options;
        if (!inputSchema.TryFindColumn(o.LabelColumnName, out var label))
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "label", o.LabelColumnName);
        if (!label.IsKey)
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "label", o.LabelColumnName, "key type (use mlContext.Transforms.Conversion.MapValueToKey)", label.GetTypeString());
        if (!inputSchema.TryFindColumn(o.FeatureColumnName, out var features))
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "feature", o.FeatureColumnName);
        if (features.Kind != SchemaShape.Column.VectorKind.Vector || features.ItemType != NumberDataViewType.Single)
            throw _host.ExceptSchemaMismatch(nameof(inputSchema), "feature", o.FeatureColumnName, "known-size vector of Single", features.GetTypeString());
        var result = inputSchema.ToDictionary(c => c.Name);
        var scoreAnnotations = new SchemaShape(new[]
        {
            new SchemaShape.Column(AnnotationUtils.Kinds.SlotNames, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false),
            new SchemaShape.Column(AnnotationUtils.Kinds.ScoreColumnKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
            new SchemaShape.Column(AnnotationUtils.Kinds.ScoreValueKind, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false),
        });
        result[o.ScoreColumnName] = new SchemaShape.Column(o.ScoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, scoreAnnotations);
        var keyAnnotations = new SchemaShape(new[] { new SchemaShape.Column(AnnotationUtils.Kinds.KeyValues, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false) });
        result[o.PredictedLabelColumnName] = new SchemaShape.Column(o.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, keyAnnotations);
        return new SchemaShape(result.Values);
    }
}
