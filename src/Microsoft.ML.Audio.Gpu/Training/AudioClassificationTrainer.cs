using Microsoft.ML.Audio.Gpu.IO;
using System.Diagnostics;
using TorchSharp.Modules;

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
/// | Exportable to ONNX | Yes, the trained model with AudioOnnxExport or mlContext.Model.ConvertToOnnx (every backbone, mono or multi-channel; docs/onnx.md) |
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
        var device = TorchDevices.Resolve(_host, "AudioClassification");
        ExampleSource train = Source(trainData, dims, "training", device);
        ExampleSource? valid = validationData is null ? null : Source(validationData, dims, "validation", device);
        ch.Info($"AudioClassification: {train.Count} training examples{(train is StreamedExamples ? " (streamed from the data view each epoch)" : "")}, {labels.Length} classes, features [{string.Join(", ", dims)}]" +
                (valid is null ? "" : $", {valid.Count} validation examples") + ".");

        int seed = (_host as IHostEnvironmentInternal)?.Seed ?? 1;
        random.manual_seed(seed).Dispose(); // a wrapper of the global generator: freed here, not by the finalizer
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
            EpochMetrics? probed = null;
            bool fittedHead = false;
            bool augmentAudio = o.FrontEnd is not null || settings.Backbone == AudioBackbone.SpeechEmbedding;
            bool augment = o.Augment;
            if (network is SpeechEmbeddingClassifier classifier)
            {
                if (!o.FineTuneBackbone)
                {
                    var watch = Stopwatch.StartNew();
                    using (var audio = train) train = Embed(classifier.Backbone, audio);
                    if (valid is not null) using (var audio = valid) valid = Embed(classifier.Backbone, audio);
                    ch.Info($"AudioClassification: embedded {train.Count + (valid?.Count ?? 0)} clips with the frozen speech embedding in {watch.Elapsed.TotalSeconds:F1} s; training its head.");
                    trainable = classifier.Classifier;
                    inputDims = train.Dims;
                    augment = false;
                    if (!o.FrozenHeadByGradient)
                    {
                        double l2 = FitLogisticHead(ch, classifier, (Examples)train, (Examples?)valid, labels.Length, history);
                        return new AudioClassificationTransformer(_host, network, settings, labels, o.FeatureColumnName, o.ScoreColumnName,
                            o.PredictedLabelColumnName, device, history, 1) { HeadL2Regularization = l2 };
                    }
                }
                else
                {
                    // Linear probe, then fine-tune (Kumar et al. 2022): the head starts as the logistic regression the frozen
                    // embedding fits, so fine-tuning starts where the frozen model ends and a random head's first large
                    // gradients never reach the pretrained weights. With validation data the fitted head is "epoch 0", kept
                    // unless an epoch of fine-tuning beats it.
                    var watch = Stopwatch.StartNew();
                    using var probeTrain = Embed(classifier.Backbone, train);
                    using var probeValid = valid is null ? null : Embed(classifier.Backbone, valid);
                    var probe = new List<EpochMetrics>();
                    FitLogisticHead(ch, classifier, probeTrain, probeValid, labels.Length, probe);
                    probed = probe[0];
                    fittedHead = true;
                    ch.Info($"AudioClassification: fine-tuning the speech embedding from the fitted head (embedding and fit {watch.Elapsed.TotalSeconds:F1} s).");
                }
                foreach (var p in classifier.Backbone.parameters()) p.requires_grad_(o.FineTuneBackbone);
            }
            using var waveform = augmentAudio && o.AudioAugmentation is not null ? WaveformAugmentation(o.AudioAugmentation, settings, device) : null;
            using var mixup = o.MixupAlpha > 0 ? Layers.AudioLayers.Mixup(o.MixupAlpha) : null;
            using var optimizer = network is SpeechEmbeddingClassifier fine && o.FineTuneBackbone
                ? new HeldScalarAdamW([
                      new AdamW.ParamGroup(fine.Backbone.parameters(), lr: o.LearningRate * FineTuneLearningRateScale, weight_decay: o.WeightDecay),
                      // A fitted head is already where it should be: it moves as slowly as the backbone.
                      new AdamW.ParamGroup(fine.Classifier.parameters(), lr: o.LearningRate * (fittedHead ? FineTuneLearningRateScale : 1), weight_decay: o.WeightDecay)],
                      o.LearningRate, o.WeightDecay)
                : new HeldScalarAdamW(trainable.parameters(), o.LearningRate, o.WeightDecay);
            var budget = o.MaxTrainingTime;
            long started = o.Clock.GetTimestamp();
            TimeSpan Elapsed() => o.Clock.GetElapsedTime(started);
            var schedule = new CosineSchedule(optimizer, o.Epochs, budget, Elapsed);
            if (budget is TimeSpan b)
                ch.Info($"AudioClassification: time budget {b.TotalSeconds:F0} s, at most {o.Epochs} epochs; the learning rate anneals to 0 over the budget.");
            Dictionary<string, Tensor>? best = null;
            double bestAccuracy = -1, bestLoss = double.MaxValue;
            int sinceBest = 0;
            if (probed is { ValidationAccuracy: double probedAccuracy, ValidationLoss: double probedLoss })
            {
                (bestAccuracy, bestLoss, selected) = (probedAccuracy, probedLoss, 0);
                best = trainable.state_dict().ToDictionary(kv => kv.Key, kv => Layers.HostCopy.Clone(kv.Value));
            }

            var guard = new GuardedStep(AfterBackward);
            int epoch = 0;
            pch.SetHeader(new ProgressHeader(["Loss", "Accuracy"], ["Epoch"]), e =>
            {
                e.SetProgress(0, epoch, schedule.PlannedEpochs);
                if (history.Count > 0) { e.SetMetric(0, history[^1].Loss); e.SetMetric(1, history[^1].Accuracy); }
            });
            for (epoch = 1; epoch <= schedule.PlannedEpochs; epoch++)
            {
                long epochStarted = o.Clock.GetTimestamp();
                int retried = guard.Retried, skipped = guard.Skipped;
                var (loss, accuracy) = TrainEpoch(trainable, optimizer, schedule, epoch, train, rng, augment, augmentAudio,
                    augment ? waveform : null, mixup, labels.Length, guard);
                double? vAcc = null, vLoss = null;
                if (valid is not null)
                {
                    (vLoss, vAcc) = Evaluate(trainable, valid);
                }
                var metrics = new EpochMetrics(epoch, loss, accuracy, vAcc, vLoss, o.Clock.GetElapsedTime(epochStarted).TotalSeconds, schedule.Rate);
                history.Add(metrics);
                if (budget is TimeSpan limit)
                {
                    // Epochs that still fit, from the recent epochs' pace (the first one pays for warm-up).
                    var recent = history.Skip(Math.Max(1, history.Count - 3)).DefaultIfEmpty(history[^1]).Average(h => h.Seconds);
                    double left = (limit - Elapsed()).TotalSeconds;
                    schedule.PlannedEpochs = Math.Min(o.Epochs, epoch + (int)Math.Floor(Math.Max(0, left) / recent));
                }
                ch.Info($"Epoch {epoch}/{schedule.PlannedEpochs}: loss {loss:F4}, accuracy {accuracy:P1}" +
                        (vAcc is double va ? $", validation accuracy {va:P1}, validation loss {vLoss:F4}" : "") + $", {metrics.Seconds:F1} s" +
                        guard.Describe(retried, skipped));
                pch.Checkpoint(loss, accuracy, epoch);
                if (budget is not null && epoch >= schedule.PlannedEpochs && epoch < o.Epochs)
                    ch.Info($"Time budget reached after {Elapsed().TotalSeconds:F0} s and {epoch} epochs.");

                if (valid is null) continue;
                if (vAcc > bestAccuracy || (vAcc == bestAccuracy && vLoss < bestLoss))
                {
                    bestAccuracy = vAcc!.Value;
                    bestLoss = vLoss!.Value;
                    selected = epoch;
                    sinceBest = 0;
                    DisposeAll(best);
                    best = trainable.state_dict().ToDictionary(kv => kv.Key, kv => Layers.HostCopy.Clone(kv.Value));
                }
                else if (o.EarlyStoppingPatience > 0 && ++sinceBest >= o.EarlyStoppingPatience)
                {
                    ch.Info($"Stopping early: no better validation accuracy for {o.EarlyStoppingPatience} epochs; keeping epoch {selected} ({bestAccuracy:P1}).");
                    break;
                }
            }
            if (guard.Retried + guard.Skipped > 0)
                ch.Warning($"AudioClassification: {guard.Retried} training step(s) had a non-finite gradient and were recomputed, {guard.Skipped} were skipped (a non-finite loss or gradient twice); the weights never took one.");
            foreach (var p in network.parameters()) p.requires_grad_(true);
            if (best is not null)
            {
                using (no_grad())
                    foreach (var (name, value) in trainable.state_dict()) value.copy_(best[name]);
                DisposeAll(best);
                if (selected != history.Count)
                    ch.Info(selected == 0 ? $"Restored the fitted head, which no epoch of fine-tuning beat on the validation set ({bestAccuracy:P1})."
                                          : $"Restored the weights of epoch {selected}, the best on the validation set ({bestAccuracy:P1}).");
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
        finally
        {
            train.Dispose();
            valid?.Dispose();
        }
        return new AudioClassificationTransformer(_host, network, settings, labels, o.FeatureColumnName, o.ScoreColumnName,
            o.PredictedLabelColumnName, device, history, selected);
    }

    /// <summary>Called after each backward pass with the step's index, the attempt (0, or 1 for the guard's second pass)
    /// and the trained parameters: the tests' way to put a NaN into a gradient.</summary>
    internal Action<long, int, IEnumerable<TorchSharp.Modules.Parameter>>? AfterBackward { get; set; }

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
            return new(classes, dims, o.NetworkSize, o.Dropout, o.Augment, null, null, null, false, AudioBackbone.SpeechEmbedding, o.FineTuneBackbone,
                EmbeddingPad: PadAlignment.Center, EmbeddingMinSamples: AudioClassificationTransformer.NetworkSettings.SpeechEmbeddingMinSamples,
                EmbeddingPooling: AudioClassificationTransformer.NetworkSettings.SpeechEmbeddingPooling);
        }
        if (o.FrontEnd is null)
            return new(classes, dims, o.NetworkSize, o.Dropout, o.Augment, null, null, null, false, o.Backbone, false, o.BcResNetSize);
        var audio = SignalColumn.Describe(_host, schema, o.FeatureColumnName, spectrum: false);
        var (stft, mel, db) = o.FrontEnd.Resolve(_host, audio, o.FeatureColumnName, "FrontEnd.SampleRate");
        if (Layers.Functional.frame_count(dims[^1], stft.FftLength, stft.EffectiveHopLength, stft.EffectiveWindowLength, stft.EffectiveFraming) < 1)
            throw _host.ExceptSchemaMismatch(nameof(schema), "feature", o.FeatureColumnName, $"at least one STFT frame of {stft.EffectiveWindowLength} samples", $"{dims[^1]} samples");
        return new(classes, dims, o.NetworkSize, o.Dropout, o.Augment, stft, mel, o.FrontEnd.ToDecibel ? db : null, o.TrainFrontEnd,
            o.Backbone, false, o.BcResNetSize);
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

    /// <summary>Training or validation examples, handed out in batches of <c>(features, labels)</c> on the device.</summary>
    private abstract class ExampleSource : IDisposable
    {
        public abstract int Count { get; }
        public abstract int[] Dims { get; }
        public abstract Device Device { get; }

        /// <summary>The examples in batches of <paramref name="size"/> (the last may be smaller), in a random order drawn
        /// from <paramref name="shuffle"/>, or in order when it is null. The caller disposes each batch's tensors.</summary>
        public abstract IEnumerable<(Tensor features, Tensor labels)> Batches(int size, Random? shuffle);

        public virtual void Dispose() { }
    }

    /// <summary>
    /// A data set held as two tensors on the training device (the features as one <c>(rows, ...dims)</c> tensor, the
    /// labels as int64), so that a batch is an index into them: no host copies or allocations per step.
    /// </summary>
    private sealed class Examples : ExampleSource
    {
        // On the CPU the tensor wraps this array without a copy: keep it referenced while the tensor lives.
        private readonly float[] _features;
        private readonly Tensor _x, _y;

        public Examples(float[] features, long[] labels, int[] dims, Device device)
        {
            _features = features;
            Labels = labels;
            Count = labels.Length;
            Dims = dims;
            _x = TensorCopy.FromArray(features, [labels.Length, .. dims.Select(d => (long)d)], device);
            _y = tensor(labels, device: device);
        }

        public override int Count { get; }
        public override int[] Dims { get; }
        public override Device Device => _x.device;

        /// <summary>The rows' features, row-major, as held on the host.</summary>
        public float[] Features => _features;

        /// <summary>The rows' 0-based classes.</summary>
        public long[] Labels { get; }

        public override IEnumerable<(Tensor features, Tensor labels)> Batches(int size, Random? shuffle)
        {
            if (shuffle is null)
            {
                for (int start = 0; start < Count; start += size)
                {
                    int n = Math.Min(size, Count - start);
                    yield return (_x.narrow(0, start, n), _y.narrow(0, start, n));
                }
                yield break;
            }
            var order = new long[Count];
            for (int i = 0; i < order.Length; i++) order[i] = i;
            shuffle.Shuffle(order);
            // One upload of the epoch's order; each batch is an index into the tensors already on the device.
            using var permutation = tensor(order, device: _x.device);
            for (int start = 0; start < Count; start += size)
            {
                using var rows = permutation.narrow(0, start, Math.Min(size, Count - start));
                yield return (_x.index_select(0, rows), _y.index_select(0, rows));
            }
        }

        public override void Dispose()
        {
            _x.Dispose();
            _y.Dispose();
        }
    }

    /// <summary>
    /// A data set read from its data view on every pass, for data larger than memory: rows go through a pool of
    /// <see cref="PoolBatches"/> batches that is shuffled before it is handed out (ML.NET's shuffled blocks), so memory
    /// stays at one pool whatever the number of rows. The view is read again each epoch: cache or save the featurized
    /// data first (ML.NET's binary format) so that audio is not decoded every epoch.
    /// </summary>
    private sealed class StreamedExamples : ExampleSource
    {
        private const int PoolBatches = 32;
        private readonly AudioClassificationTrainer _trainer;
        private readonly IDataView _data;
        private readonly string _what;

        public StreamedExamples(AudioClassificationTrainer trainer, IDataView data, int[] dims, string what, Device device, int count)
        {
            _trainer = trainer;
            _data = data;
            _what = what;
            Dims = dims;
            Device = device;
            Count = count;
        }

        public override int Count { get; }
        public override int[] Dims { get; }
        public override Device Device { get; }

        public override IEnumerable<(Tensor features, Tensor labels)> Batches(int size, Random? shuffle)
        {
            var o = _trainer._options;
            int width = Dims.Aggregate(1, (a, b) => a * b);
            int poolRows = size * PoolBatches;
            var pool = new float[(long)poolRows * width];
            var poolLabels = new long[poolRows];
            var fCol = _data.Schema[o.FeatureColumnName];
            var lCol = _data.Schema[o.LabelColumnName];
            long[] shape = [0, .. Dims.Select(d => (long)d)];
            using var cursor = shuffle is null ? _data.GetRowCursor([fCol, lCol]) : _data.GetRowCursor([fCol, lCol], new Random(shuffle.Next()));
            var fGet = cursor.GetGetter<VBuffer<float>>(fCol);
            var lGet = cursor.GetGetter<uint>(lCol);
            var v = default(VBuffer<float>);
            uint key = 0;
            bool more = true;
            while (more)
            {
                int filled = 0;
                while (filled < poolRows && (more = cursor.MoveNext()))
                {
                    _trainer._host.CheckAlive();
                    lGet(ref key);
                    if (key == 0)
                        throw new InvalidOperationException($"AudioClassification: {_what} row {cursor.Position} has a missing label (a value that column '{o.LabelColumnName}' does not know).");
                    fGet(ref v);
                    if (v.Length != width)
                        throw new InvalidOperationException($"AudioClassification: {_what} row {cursor.Position} has {v.Length} feature values; the column declares {width}.");
                    v.CopyTo(pool.AsSpan((int)((long)filled * width), width));
                    poolLabels[filled++] = key - 1;
                }
                var order = Enumerable.Range(0, filled).ToArray();
                shuffle?.Shuffle(order);
                var batch = new float[(long)size * width];
                for (int start = 0; start < filled; start += size)
                {
                    int n = Math.Min(size, filled - start);
                    var labels = new long[n];
                    for (int k = 0; k < n; k++)
                    {
                        Array.Copy(pool, (long)order[start + k] * width, batch, (long)k * width, width);
                        labels[k] = poolLabels[order[start + k]];
                    }
                    shape[0] = n;
                    using var host = TensorCopy.FromArray(batch, 0, (long)n * width, shape, DeviceType.CPU == Device.type ? Device : CPU);
                    // A copy: the batch array is reused for the next batch.
                    yield return (host.to(Device, copy: true), tensor(labels, device: Device));
                }
            }
        }
    }

    /// <summary>Above this many feature bytes, or with <see cref="AudioClassificationOptions.StreamTrainingData"/>, examples
    /// are streamed from the data view instead of held in memory.</summary>
    private const long InMemoryLimitBytes = 4L << 30;

    /// <summary>The examples of <paramref name="data"/>: in memory, or streamed when they are large or the options ask.</summary>
    private ExampleSource Source(IDataView data, int[] dims, string what, Device device)
    {
        long width = dims.Aggregate(1L, (a, b) => a * b);
        long? rows = data.GetRowCount();
        if (!_options.StreamTrainingData && !(rows * width * sizeof(float) > InMemoryLimitBytes) && !(rows * width > Array.MaxLength))
            return ReadExamples(data, dims, what, device);
        // A pass with no active column counts the rows without computing features (ML.NET's getters are lazy).
        long count = rows ?? 0;
        if (rows is null)
            using (var cursor = data.GetRowCursor([]))
                while (cursor.MoveNext()) { _host.CheckAlive(); count++; }
        if (count == 0) throw new InvalidOperationException($"AudioClassification: the {what} data has no rows.");
        if (count > int.MaxValue) throw new InvalidOperationException($"AudioClassification: the {what} data has {count} rows; at most {int.MaxValue} are supported.");
        return new StreamedExamples(this, data, dims, what, device, (int)count);
    }

    /// <summary>Reads every row's features and label (one pass) into one array, then onto the device.</summary>
    private Examples ReadExamples(IDataView data, int[] dims, string what, Device device)
    {
        var o = _options;
        int size = dims.Aggregate(1, (a, b) => a * b);
        // With the row count known, rows go straight into one array of the exact size; otherwise into blocks of rows,
        // copied once into an exact array at the end (peak: twice the features, not the three times of a doubling array).
        long? known = data.GetRowCount();
        if (known * size > Array.MaxLength)
            throw new InvalidOperationException($"AudioClassification: the {what} data does not fit in one array ({known} rows of {size} values); set StreamTrainingData.");
        int blockRows = known is long k ? (int)Math.Max(1, k) : Math.Max(1, (16 << 20) / size);
        var blocks = new List<float[]> { new float[(long)blockRows * size] };
        var labels = new List<long>((int)Math.Min(known ?? 256, int.MaxValue));
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
                int row = labels.Count % blockRows;
                if (row == 0 && labels.Count > 0) blocks.Add(new float[(long)blockRows * size]);
                if ((long)(labels.Count + 1) * size > Array.MaxLength)
                    throw new InvalidOperationException($"AudioClassification: the {what} data does not fit in one array ({labels.Count} rows of {size} values); set StreamTrainingData.");
                v.CopyTo(blocks[^1].AsSpan(row * size, size));
                labels.Add(key - 1);
            }
        }
        if (labels.Count == 0) throw new InvalidOperationException($"AudioClassification: the {what} data has no rows.");
        float[] features;
        if (blocks.Count == 1 && blocks[0].LongLength == (long)labels.Count * size) features = blocks[0];
        else
        {
            features = new float[(long)labels.Count * size];
            for (int i = 0; i < blocks.Count; i++)
            {
                long offset = (long)i * blockRows * size;
                Array.Copy(blocks[i], 0, features, offset, Math.Min(blocks[i].LongLength, features.LongLength - offset));
                blocks[i] = null!; // each block can go as soon as it is copied
            }
        }
        return new Examples(features, [.. labels], dims, device);
    }

    /// <summary>
    /// A frozen backbone's head fitted as logistic regression on the standardised embeddings (<see cref="LogisticHead"/>),
    /// to convergence, in well under a second: with validation data, λ is the grid's best on it; else the default. The
    /// history gets one entry, as an epoch, so that reports read the same. Returns the λ used.
    /// </summary>
    private double FitLogisticHead(IChannel ch, SpeechEmbeddingClassifier classifier, Examples train, Examples? valid, int classes, List<EpochMetrics> history)
    {
        var watch = Stopwatch.StartNew();
        var candidates = _options.HeadL2Regularization is double fixedL2 ? [fixedL2] : valid is null ? [LogisticHead.DefaultL2] : LogisticHead.L2Grid;
        LogisticHead.Fit? best = null;
        (double loss, double accuracy) bestScore = (double.MaxValue, -1);
        foreach (double l2 in candidates)
        {
            _host.CheckAlive();
            var fit = LogisticHead.Train(_host, train.Features, train.Labels, train.Dims[0], classes, l2, classifier.HeadEpsilon);
            if (valid is null) { best = fit; break; }
            classifier.SetHead(fit);
            var score = Evaluate(classifier.Classifier, valid);
            if (score.accuracy > bestScore.accuracy || (score.accuracy == bestScore.accuracy && score.loss < bestScore.loss))
                (best, bestScore) = (fit, score);
        }
        classifier.SetHead(best!);
        var (trainLoss, trainAccuracy) = Evaluate(classifier.Classifier, train);
        double? vLoss = valid is null ? null : bestScore.loss, vAcc = valid is null ? null : bestScore.accuracy;
        history.Add(new EpochMetrics(1, trainLoss, trainAccuracy, vAcc, vLoss, watch.Elapsed.TotalSeconds));
        ch.Info($"AudioClassification: fitted the head as logistic regression on the standardised embeddings (λ {best!.L2:G2}" +
                (candidates.Length > 1 ? $", the best of {candidates.Length} on the validation set" : "") + $") in {watch.Elapsed.TotalSeconds:F1} s: " +
                $"training accuracy {trainAccuracy:P1}" + (vAcc is double va ? $", validation accuracy {va:P1}" : "") + ".");
        return best.L2;
    }

    /// <summary>Learning rate of a fine-tuned pretrained backbone, relative to the head's.</summary>
    private const double FineTuneLearningRateScale = 0.1;

    /// <summary>Each example's pooled embedding, computed once with the frozen backbone (batches of 64, no gradient):
    /// small enough to hold in memory even when the audio was streamed.</summary>
    private static Examples Embed(Layers.SpeechEmbedding backbone, ExampleSource audio)
    {
        backbone.eval();
        int size = backbone.output_size;
        var features = new float[(long)audio.Count * size];
        var labels = new long[audio.Count];
        using var _ = no_grad();
        int start = 0;
        foreach (var (x, y) in audio.Batches(64, null))
        {
            using var scope = NewDisposeScope();
            long n = x.shape[0];
            var e = backbone.call(x.reshape(n, x.shape[^1]));
            TensorCopy.CopyTo(e, features, (long)start * size);
            using (var cpuLabels = y.cpu()) cpuLabels.data<long>().CopyTo(labels, start);
            start += (int)n;
            x.Dispose();
            y.Dispose();
        }
        return new Examples(features, labels, [size], audio.Device);
    }

    /// <summary>
    /// Cosine annealing of every parameter group's learning rate from its initial value to 0, stepped per batch. The
    /// progress is the share of the epochs done or, with a time budget, the share of the budget spent, whichever is
    /// further: so the rate reaches about 0 when the budget runs out, however many epochs that turns out to be.
    /// </summary>
    private sealed class CosineSchedule
    {
        private readonly optim.Optimizer _optimizer;
        private readonly double[] _initial;
        private readonly int _epochs;
        private readonly TimeSpan? _budget;
        private readonly Func<TimeSpan> _elapsed;
        private double _progress;

        public CosineSchedule(optim.Optimizer optimizer, int epochs, TimeSpan? budget, Func<TimeSpan> elapsed)
        {
            _optimizer = optimizer;
            _initial = [.. optimizer.ParamGroups.Select(g => g.LearningRate)];
            _epochs = PlannedEpochs = epochs;
            _budget = budget;
            _elapsed = elapsed;
            Rate = _initial.Max();
        }

        /// <summary>Epochs the run will last, as far as is known (fewer than the maximum when a time budget binds).</summary>
        public int PlannedEpochs { get; set; }

        /// <summary>Whether the time budget is spent.</summary>
        public bool OutOfTime => _budget is TimeSpan budget && _elapsed() >= budget;

        /// <summary>The largest group's rate at the last step.</summary>
        public double Rate { get; private set; }

        /// <summary>Sets the rate for the step at <paramref name="fraction"/> (0..1) of epoch <paramref name="epoch"/> (1-based).</summary>
        public void Step(int epoch, double fraction)
        {
            double progress = (epoch - 1 + fraction) / _epochs;
            if (_budget is TimeSpan budget) progress = Math.Max(progress, _elapsed() / budget);
            _progress = Math.Clamp(progress, _progress, 1.0);
            double factor = 0.5 * (1 + Math.Cos(Math.PI * _progress));
            int i = 0;
            foreach (var group in _optimizer.ParamGroups) group.LearningRate = _initial[i++] * factor;
            Rate = _initial.Max() * factor;
        }
    }

    private (double loss, double accuracy) TrainEpoch(nn.Module<Tensor, Tensor> network, optim.Optimizer optimizer, CosineSchedule schedule, int epoch,
        ExampleSource data, Random rng, bool augment, bool augmentAudio, nn.Module<Tensor, Tensor>? waveform, Layers.Mixup? mixup, int classes, GuardedStep guard)
    {
        var o = _options;
        network.train();
        waveform?.train();
        mixup?.train();
        // The running sums stay on the device, read once at the end of the epoch.
        using var lossSum = zeros(1, device: data.Device);
        using var correct = zeros(1, ScalarType.Int64, device: data.Device);
        long seen = 0, start = 0;
        foreach (var (features, labels) in data.Batches(o.BatchSize, rng))
        {
            using var x0 = features;
            using var y = labels;
            _host.CheckAlive();
            int n = (int)y.shape[0];
            start += n;
            if (n < 2 && data.Count >= 2) continue; // BatchNorm needs two examples; the row is seen next epoch
            // A time budget is kept within an epoch too (a large data set's epoch can be longer than the budget).
            if (schedule.OutOfTime) break;
            schedule.Step(epoch, (double)(start - n) / data.Count);
            using var scope = NewDisposeScope();
            var x = x0;
            if (augment) x = AugmentBatch(x, augmentAudio, rng);
            if (waveform is not null) x = waveform.call(x);
            // With mixup the targets are the mixed labels' probabilities; accuracy is still counted against the first label.
            var targets = y;
            if (mixup is not null) (x, targets) = mixup.call(x, y, classes);
            optimizer.zero_grad();
            var logits = network.call(x);
            var loss = nn.functional.cross_entropy(logits, targets, label_smoothing: o.LabelSmoothing);
            if (!guard.Backward(loss, optimizer)) continue; // a non-finite loss or gradient: the step is not taken
            optimizer.step();
            using var count = n.ToScalar();
            lossSum.add_(loss.detach().mul(count), Layers.HeldScalars.One);
            correct.add_(logits.argmax(1).eq(y).sum(), Layers.HeldScalars.One);
            seen += n;
        }
        seen = Math.Max(1, seen);
        return (lossSum.item<float>() / seen, (double)correct.item<long>() / seen);
    }

    /// <summary>The enabled waveform augmentation layers, in the order a recording meets them: the talker's speed, the
    /// room, then the background noise.</summary>
    private static nn.Module<Tensor, Tensor> WaveformAugmentation(AudioAugmentationOptions options, AudioClassificationTransformer.NetworkSettings settings, Device device)
    {
        long rate = settings.Mel?.SampleRate ?? Layers.SpeechEmbeddingFrontEnd.SampleRate;
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
        if (options.SpeedPerturbation) layers.Add(("speed", Layers.AudioLayers.SpeedPerturbation()));
        if (options.Reverberation) layers.Add(("room", Layers.AudioLayers.Reverberation(rate)));
        if (options.BackgroundNoise)
        {
            Tensor? bank = null;
            if (options.NoiseClips is { } clips)
            {
                // One (clips, samples) bank: shorter clips are looped to the longest.
                int length = clips.Max(c => c.Length);
                var values = new float[(long)clips.Count * length];
                for (int i = 0; i < clips.Count; i++)
                    for (int t = 0; t < length; t++) values[(long)i * length + t] = clips[i][t % clips[i].Length];
                bank = tensor(values, [clips.Count, length]);
            }
            using (bank) layers.Add(("noise", Layers.AudioLayers.BackgroundNoise(noise: bank)));
        }
        var sequence = nn.Sequential(layers.ToArray());
        if (device.type != DeviceType.CPU) sequence.to(device);
        return sequence;
    }

    /// <summary>Random circular time shift of up to 10% of the clip per batch (drawn from <paramref name="rng"/>), and, for
    /// audio, a random gain of ±6 dB per example (drawn on the device from the torch generator).</summary>
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
            // Gains drawn on the device (no upload per step): 10^(dB / 20) = exp(dB · ln 10 / 20), dB uniform in [−6, 6].
            using var nepersPerUnit = (12 * Math.Log(10) / 20).ToScalar();
            using var lowest = (-6 * Math.Log(10) / 20).ToScalar();
            using var g = rand(shape, device: x.device);
            g.mul_(nepersPerUnit);
            g.add_(lowest, Layers.HeldScalars.One);
            g.exp_();
            x = x.mul(g);
        }
        return x;
    }

    private (double loss, double accuracy) Evaluate(nn.Module<Tensor, Tensor> network, ExampleSource data)
    {
        network.eval();
        using var _ = no_grad();
        using var lossSum = zeros(1, device: data.Device);
        using var correct = zeros(1, ScalarType.Int64, device: data.Device);
        foreach (var (features, labels) in data.Batches(_options.BatchSize, null))
        {
            using var x = features;
            using var y = labels;
            using var scope = NewDisposeScope();
            var logits = network.call(x);
            using var count = y.shape[0].ToScalar();
            lossSum.add_(nn.functional.cross_entropy(logits, y).mul(count), Layers.HeldScalars.One);
            correct.add_(logits.argmax(1).eq(y).sum(), Layers.HeldScalars.One);
        }
        return (lossSum.item<float>() / data.Count, (double)correct.item<long>() / data.Count);
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
