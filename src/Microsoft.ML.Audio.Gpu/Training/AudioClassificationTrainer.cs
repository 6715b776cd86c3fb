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
        var device = TorchDevices.Resolve(_host, "AudioClassification");
        var train = ReadExamples(trainData, dims, "training", device);
        var valid = validationData is null ? null : ReadExamples(validationData, dims, "validation", device);
        ch.Info($"AudioClassification: {train.Count} training examples, {labels.Length} classes, features [{string.Join(", ", dims)}]" +
                (valid is null ? "" : $", {valid.Count} validation examples") + ".");

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
                    using (var audio = train) train = Embed(classifier.Backbone, audio);
                    if (valid is not null) using (var audio = valid) valid = Embed(classifier.Backbone, audio);
                    ch.Info($"AudioClassification: embedded {train.Count + (valid?.Count ?? 0)} clips with the frozen speech embedding in {watch.Elapsed.TotalSeconds:F1} s; training its head.");
                    trainable = classifier.Classifier;
                    inputDims = train.Dims;
                    augment = false;
                }
                foreach (var p in classifier.Backbone.parameters()) p.requires_grad_(o.FineTuneBackbone);
            }
            using var waveform = augmentAudio && o.AudioAugmentation is not null ? WaveformAugmentation(o.AudioAugmentation, settings, device) : null;
            using var mixup = o.MixupAlpha > 0 ? Layers.AudioLayers.Mixup(o.MixupAlpha) : null;
            using var optimizer = network is SpeechEmbeddingClassifier fine && o.FineTuneBackbone
                ? new HeldScalarAdamW([
                      new AdamW.ParamGroup(fine.Backbone.parameters(), lr: o.LearningRate * FineTuneLearningRateScale, weight_decay: o.WeightDecay),
                      new AdamW.ParamGroup(fine.Classifier.parameters(), lr: o.LearningRate, weight_decay: o.WeightDecay)],
                      o.LearningRate, o.WeightDecay)
                : new HeldScalarAdamW(trainable.parameters(), o.LearningRate, o.WeightDecay);
            var budget = o.MaxTrainingTime;
            var clock = Stopwatch.StartNew();
            var schedule = new CosineSchedule(optimizer, o.Epochs, budget, clock);
            if (budget is TimeSpan b)
                ch.Info($"AudioClassification: time budget {b.TotalSeconds:F0} s, at most {o.Epochs} epochs; the learning rate anneals to 0 over the budget.");
            Dictionary<string, Tensor>? best = null;
            double bestAccuracy = -1, bestLoss = double.MaxValue;
            int sinceBest = 0;

            int epoch = 0;
            pch.SetHeader(new ProgressHeader(["Loss", "Accuracy"], ["Epoch"]), e =>
            {
                e.SetProgress(0, epoch, schedule.PlannedEpochs);
                if (history.Count > 0) { e.SetMetric(0, history[^1].Loss); e.SetMetric(1, history[^1].Accuracy); }
            });
            for (epoch = 1; epoch <= schedule.PlannedEpochs; epoch++)
            {
                var watch = Stopwatch.StartNew();
                var (loss, accuracy) = TrainEpoch(trainable, optimizer, schedule, epoch, train, inputDims, rng, augment, augmentAudio,
                    augment ? waveform : null, mixup, labels.Length);
                double? vAcc = null, vLoss = null;
                if (valid is not null)
                {
                    (vLoss, vAcc) = Evaluate(trainable, valid);
                }
                watch.Stop();
                var metrics = new EpochMetrics(epoch, loss, accuracy, vAcc, vLoss, watch.Elapsed.TotalSeconds, schedule.Rate);
                history.Add(metrics);
                if (budget is TimeSpan limit)
                {
                    // Epochs that still fit, from the recent epochs' pace (the first one pays for warm-up).
                    var recent = history.Skip(Math.Max(1, history.Count - 3)).DefaultIfEmpty(history[^1]).Average(h => h.Seconds);
                    double left = (limit - clock.Elapsed).TotalSeconds;
                    schedule.PlannedEpochs = Math.Min(o.Epochs, epoch + (int)Math.Floor(Math.Max(0, left) / recent));
                }
                ch.Info($"Epoch {epoch}/{schedule.PlannedEpochs}: loss {loss:F4}, accuracy {accuracy:P1}" +
                        (vAcc is double va ? $", validation accuracy {va:P1}, validation loss {vLoss:F4}" : "") + $", {metrics.Seconds:F1} s");
                pch.Checkpoint(loss, accuracy, epoch);
                if (budget is not null && epoch >= schedule.PlannedEpochs && epoch < o.Epochs)
                    ch.Info($"Time budget reached after {clock.Elapsed.TotalSeconds:F0} s and {epoch} epochs.");

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
        finally
        {
            train.Dispose();
            valid?.Dispose();
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
            return new(classes, dims, o.NetworkSize, o.Dropout, o.Augment, null, null, null, false, o.Backbone, false, o.BcResNetSize);
        var audio = SignalColumn.Describe(_host, schema, o.FeatureColumnName, spectrum: false);
        var mel = o.FrontEnd.Mel;
        mel.SampleRate = audio.ResolveSampleRate(_host, o.FeatureColumnName, o.FrontEnd.SampleRate, "FrontEnd.SampleRate");
        mel.Validate();
        var stft = o.FrontEnd.Stft;
        if (Layers.Functional.frame_count(dims[^1], stft.FftLength, stft.EffectiveHopLength, stft.EffectiveWindowLength, stft.EffectiveFraming) < 1)
            throw _host.ExceptSchemaMismatch(nameof(schema), "feature", o.FeatureColumnName, $"at least one STFT frame of {stft.EffectiveWindowLength} samples", $"{dims[^1]} samples");
        return new(classes, dims, o.NetworkSize, o.Dropout, o.Augment, stft, mel, o.FrontEnd.ToDecibel ? o.FrontEnd.Decibel : null, o.TrainFrontEnd,
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

    /// <summary>
    /// A data set held as two tensors on the training device (the features as one <c>(rows, ...dims)</c> tensor, the
    /// labels as int64), so that a batch is an index into them: no host copies or allocations per step.
    /// </summary>
    private sealed class Examples : IDisposable
    {
        // On the CPU the tensor wraps this array without a copy: keep it referenced while the tensor lives.
        private readonly float[] _features;

        public Examples(float[] features, long[] labels, int[] dims, Device device)
        {
            _features = features;
            Count = labels.Length;
            Dims = dims;
            Features = TensorCopy.FromArray(features, [labels.Length, .. dims.Select(d => (long)d)], device);
            Labels = tensor(labels, device: device);
        }

        public int Count { get; }
        public int[] Dims { get; }
        public Tensor Features { get; }
        public Tensor Labels { get; }

        public void Dispose()
        {
            Features.Dispose();
            Labels.Dispose();
        }
    }

    /// <summary>Reads every row's features and label (one pass) into one array, then onto the device.</summary>
    private Examples ReadExamples(IDataView data, int[] dims, string what, Device device)
    {
        var o = _options;
        int size = dims.Aggregate(1, (a, b) => a * b);
        // Rows go straight into one growing array (doubling), not into a list of per-row arrays copied again at the end.
        long? known = data.GetRowCount();
        var features = new float[(long)Math.Max(1, known ?? 256) * size];
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
                long offset = (long)labels.Count * size;
                if (offset + size > features.LongLength) Array.Resize(ref features, (int)Math.Min(Array.MaxLength, features.LongLength * 2));
                if (offset + size > features.LongLength)
                    throw new InvalidOperationException($"AudioClassification: the {what} data does not fit in one array ({labels.Count} rows of {size} values); use fewer or shorter clips.");
                v.CopyTo(features.AsSpan((int)offset, size));
                labels.Add(key - 1);
            }
        }
        if (labels.Count == 0) throw new InvalidOperationException($"AudioClassification: the {what} data has no rows.");
        if (features.LongLength != (long)labels.Count * size) Array.Resize(ref features, labels.Count * size);
        return new Examples(features, [.. labels], dims, device);
    }

    /// <summary>Learning rate of a fine-tuned pretrained backbone, relative to the head's.</summary>
    private const double FineTuneLearningRateScale = 0.1;

    /// <summary>Each example's pooled embedding, computed once with the frozen backbone (batches of 64, no gradient).</summary>
    private static Examples Embed(Layers.SpeechEmbedding backbone, Examples audio)
    {
        backbone.eval();
        int size = backbone.output_size;
        var features = new float[(long)audio.Count * size];
        using var _ = no_grad();
        for (int start = 0; start < audio.Count; start += 64)
        {
            int n = Math.Min(64, audio.Count - start);
            using var scope = NewDisposeScope();
            var x = audio.Features.narrow(0, start, n);
            var y = backbone.call(x.reshape(n, x.shape[^1]));
            TensorCopy.CopyTo(y, features, (long)start * size);
        }
        using var labels = audio.Labels.cpu();
        return new Examples(features, labels.data<long>().ToArray(), [size], audio.Features.device);
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
        private readonly Stopwatch _clock;
        private double _progress;

        public CosineSchedule(optim.Optimizer optimizer, int epochs, TimeSpan? budget, Stopwatch clock)
        {
            _optimizer = optimizer;
            _initial = [.. optimizer.ParamGroups.Select(g => g.LearningRate)];
            _epochs = PlannedEpochs = epochs;
            _budget = budget;
            _clock = clock;
            Rate = _initial.Max();
        }

        /// <summary>Epochs the run will last, as far as is known (fewer than the maximum when a time budget binds).</summary>
        public int PlannedEpochs { get; set; }

        /// <summary>The largest group's rate at the last step.</summary>
        public double Rate { get; private set; }

        /// <summary>Sets the rate for the step at <paramref name="fraction"/> (0..1) of epoch <paramref name="epoch"/> (1-based).</summary>
        public void Step(int epoch, double fraction)
        {
            double progress = (epoch - 1 + fraction) / _epochs;
            if (_budget is TimeSpan budget) progress = Math.Max(progress, _clock.Elapsed / budget);
            _progress = Math.Clamp(progress, _progress, 1.0);
            double factor = 0.5 * (1 + Math.Cos(Math.PI * _progress));
            int i = 0;
            foreach (var group in _optimizer.ParamGroups) group.LearningRate = _initial[i++] * factor;
            Rate = _initial.Max() * factor;
        }
    }

    private (double loss, double accuracy) TrainEpoch(nn.Module<Tensor, Tensor> network, optim.Optimizer optimizer, CosineSchedule schedule, int epoch,
        Examples data, int[] dims, Random rng, bool augment, bool augmentAudio, nn.Module<Tensor, Tensor>? waveform, Layers.Mixup? mixup, int classes)
    {
        var o = _options;
        network.train();
        waveform?.train();
        mixup?.train();
        var order = new long[data.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        rng.Shuffle(order);
        var device = data.Features.device;
        // One upload of the epoch's order; the running sums stay on the device, read once at the end of the epoch.
        using var permutation = tensor(order, device: device);
        using var lossSum = zeros(1, device: device);
        using var correct = zeros(1, ScalarType.Int64, device: device);
        for (int start = 0; start < order.Length; start += o.BatchSize)
        {
            _host.CheckAlive();
            int n = Math.Min(o.BatchSize, order.Length - start);
            if (n < 2 && order.Length >= 2) continue; // BatchNorm needs two examples; the row is seen next epoch
            schedule.Step(epoch, (double)start / order.Length);
            using var scope = NewDisposeScope();
            var rows = permutation.narrow(0, start, n);
            var x = data.Features.index_select(0, rows);
            if (augment) x = AugmentBatch(x, augmentAudio, rng);
            if (waveform is not null) x = waveform.call(x);
            var y = data.Labels.index_select(0, rows);
            // With mixup the targets are the mixed labels' probabilities; accuracy is still counted against the first label.
            var targets = y;
            if (mixup is not null) (x, targets) = mixup.call(x, y, classes);
            optimizer.zero_grad();
            var logits = network.call(x);
            var loss = nn.functional.cross_entropy(logits, targets, label_smoothing: o.LabelSmoothing);
            loss.backward();
            optimizer.step();
            using var count = n.ToScalar();
            lossSum.add_(loss.detach().mul(count), Layers.HeldScalars.One);
            correct.add_(logits.argmax(1).eq(y).sum(), Layers.HeldScalars.One);
        }
        return (lossSum.item<float>() / data.Count, (double)correct.item<long>() / data.Count);
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

    private (double loss, double accuracy) Evaluate(nn.Module<Tensor, Tensor> network, Examples data)
    {
        network.eval();
        using var _ = no_grad();
        var device = data.Features.device;
        using var lossSum = zeros(1, device: device);
        using var correct = zeros(1, ScalarType.Int64, device: device);
        for (int start = 0; start < data.Count; start += _options.BatchSize)
        {
            int n = Math.Min(_options.BatchSize, data.Count - start);
            using var scope = NewDisposeScope();
            var logits = network.call(data.Features.narrow(0, start, n));
            var y = data.Labels.narrow(0, start, n);
            using var count = n.ToScalar();
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
