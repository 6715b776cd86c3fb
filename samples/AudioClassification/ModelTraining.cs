using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace AudioClassification;

/// <summary>Training code: the featurizer, the trainer, and the evaluation report.</summary>
public static class ModelTraining
{
    /// <summary>
    /// Decoding: mono, 16 kHz, exactly 1 s: shorter clips are zero-padded, and from longer ones (recordings of up to a
    /// few seconds) the loudest second is kept, so the word is not cut off. Files at any common sample rate are resampled.
    /// </summary>
    public static LoadAudioOptions Loading => new() { SampleRate = 16000, DurationSeconds = 1.0, Crop = CropAlignment.Loudest };

    /// <summary>
    /// The log-mel front end: 25 ms windows, 10 ms hop, 40 Slaney mel bands up to 4 kHz, 80 dB range. Stopping at
    /// 4 kHz makes 8 kHz and 16 kHz recordings look alike, so a model works on telephone-band and wide-band audio.
    /// </summary>
    public static MelSpectrogramOptions FrontEnd => new()
    {
        FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 40, MaxFrequency = 4000,
        MelScale = MelScale.Slaney, MelNorm = MelNorm.Slaney, TopDb = 80,
    };

    /// <summary>Training settings of the sample (the trainer's defaults, plus early stopping on held-out voices).</summary>
    public sealed class Settings
    {
        /// <summary>Most epochs; with <see cref="MaxTrainingTime"/>, those that fit in it.</summary>
        public int Epochs { get; set; } = 80;
        /// <summary>Time to train (decoding comes before it): a default run stays within a few minutes on 2 CPU cores.</summary>
        public TimeSpan? MaxTrainingTime { get; set; } = TimeSpan.FromSeconds(150);
        public int BatchSize { get; set; } = 32;
        /// <summary>Epochs without a better validation accuracy before stopping (0: never; the sample uses 0 with a time budget).</summary>
        public int Patience { get; set; } = 20;
        /// <summary>Large: 97.5% on held-out voices of the bundled data in about 100 s on 2 CPU cores (Small: 95.0%, 40 s).</summary>
        public AudioCnnSize? Size { get; set; }
        /// <summary>BC-ResNet's width, for <see cref="AudioBackbone.BcResNet"/>.</summary>
        public BcResNetSize BcResNetSize { get; set; } = BcResNetSize.Tau3;
        /// <summary>Kapre's way: raw audio into the network, whose first layers compute the log-mel spectrogram.</summary>
        public bool FrontEndInNetwork { get; set; }
        /// <summary>Waveform augmentation on the device (raw audio only).</summary>
        public AudioAugmentationOptions? AudioAugmentation { get; set; }
        /// <summary>Mixup's α; 0 is off.</summary>
        public double MixupAlpha { get; set; }
        /// <summary>The network: the CNN from scratch, or the pretrained speech embedding with a new head.</summary>
        public AudioBackbone Backbone { get; set; } = AudioBackbone.Cnn;
        /// <summary>Train the pretrained embedding too (at a tenth of the learning rate).</summary>
        public bool FineTune { get; set; }
        public int? GpuDeviceId { get; set; }
        public bool FallbackToCpu { get; set; } = true;
        public int Seed { get; set; } = 1;
    }

    /// <summary>The trained model and what is needed to report on it.</summary>
    public sealed record Result(MLContext Context, ITransformer Model, AudioClassificationTransformer Classifier, ITransformer LabelMap, IDataView Test, TimeSpan Elapsed);

    /// <summary>Maps the class names to keys in sorted order, so that class order is stable.</summary>
    public static IEstimator<ITransformer> LabelMap(MLContext ml)
        => ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue);

    /// <summary>Trains on <paramref name="train"/>, keeps the epoch best on <paramref name="validation"/>.</summary>
    public static Result Train(List<LabelledFile> train, List<LabelledFile> validation, List<LabelledFile> test, Settings settings, TextWriter output)
    {
        var ml = new MLContext(settings.Seed) { GpuDeviceId = settings.GpuDeviceId, FallbackToCpu = settings.FallbackToCpu };
        var progress = new ConsoleProgress(output);
        ml.Log += progress.OnLog;
        var watch = Stopwatch.StartNew();

        var trainView = Dataset.ToDataView(ml, train);
        var labelMap = LabelMap(ml).Fit(trainView);
        var loading = ml.Transforms.Audio.LoadAudio("Audio", "Path", Loading);
        bool rawAudio = settings.FrontEndInNetwork || settings.Backbone == AudioBackbone.SpeechEmbedding;
        IEstimator<ITransformer> featurizer = rawAudio
            ? loading
            : loading.Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", FrontEnd));
        var featurizerModel = featurizer.Fit(trainView);
        IDataView Prepare(List<LabelledFile> files) => featurizerModel.Transform(labelMap.Transform(Dataset.ToDataView(ml, files)));

        var options = new AudioClassificationOptions
        {
            FeatureColumnName = rawAudio ? "Audio" : "Features",
            FrontEnd = settings.FrontEndInNetwork ? FrontEnd : null,
            Backbone = settings.Backbone,
            FineTuneBackbone = settings.FineTune,
            NetworkSize = settings.Size ?? ChooseCnnSize(train.Count, classes: (int)((KeyDataViewType)labelMap.GetOutputSchema(trainView.Schema)["Label"].Type).Count,
                featurizerModel.GetOutputSchema(trainView.Schema)[rawAudio ? "Audio" : "Features"], settings, output),
            BcResNetSize = settings.BcResNetSize,
            Epochs = settings.Epochs,
            MaxTrainingTime = settings.MaxTrainingTime,
            AudioAugmentation = settings.AudioAugmentation,
            MixupAlpha = settings.MixupAlpha,
            BatchSize = settings.BatchSize,
            EarlyStoppingPatience = settings.Patience,
            ValidationSet = validation.Count > 0 ? Prepare(validation) : null,
        };
        progress.Epochs = settings.Epochs;
        var classifier = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(Prepare(train));
        var scored = classifier.Transform(Prepare(train.Take(1).ToList()));
        var toClassName = ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(scored);
        var model = new TransformerChain<ITransformer>(featurizerModel, classifier, toClassName);
        watch.Stop();
        return new Result(ml, model, classifier, labelMap, Dataset.ToDataView(ml, test), watch.Elapsed);
    }

    /// <summary>Epochs a size must fit in the time budget to be chosen: the CNN needs about this many to converge.</summary>
    private const int EpochsToConverge = 30;

    /// <summary>
    /// The CNN size for this data and time: Large when this machine can run <see cref="EpochsToConverge"/> epochs of it
    /// in the budget, else Small. The speed is measured here, on a few training steps with batches of the data's shape.
    /// </summary>
    public static AudioCnnSize ChooseCnnSize(int trainClips, int classes, DataViewSchema.Column features, Settings settings, TextWriter output)
    {
        if (settings.MaxTrainingTime is not TimeSpan budget) return AudioCnnSize.Large;
        if (settings.GpuDeviceId is not null && TorchSharp.torch.cuda.is_available()) return AudioCnnSize.Large;
        var dims = ((VectorDataViewType)features.Type).Dimensions.Select(d => (long)d).ToArray();
        var rates = new Dictionary<AudioCnnSize, double>();
        foreach (var size in new[] { AudioCnnSize.Large, AudioCnnSize.Small })
        {
            // Spectrogram-shaped input: with the front end inside the network (--kapre) its cost is small beside the CNN's.
            long[] shape = dims.Length == 1 ? [settings.BatchSize, FrontEnd.MelBinCount, 1 + dims[0] / FrontEnd.HopLength!.Value] : [settings.BatchSize, .. dims];
            using var network = new AudioCnn("probe", Math.Max(2, classes), 1, size, 0.2, null, null);
            using var x = TorchSharp.torch.randn(shape);
            using var y = TorchSharp.torch.zeros(settings.BatchSize, TorchSharp.torch.ScalarType.Int64);
            var watch = new Stopwatch();
            for (int step = 0; step < 4; step++)
            {
                if (step == 1) watch.Start(); // the first step pays for warm-up
                using var scope = TorchSharp.torch.NewDisposeScope();
                // Forward and backward: nearly all of a step's time (the optimizer's update is elementwise).
                TorchSharp.torch.nn.functional.cross_entropy(network.call(x), y).backward();
            }
            rates[size] = 3.0 * settings.BatchSize / watch.Elapsed.TotalSeconds;
        }
        // An epoch also scores the validation set (about a third of a training step's cost per clip, for ~15% of the clips).
        double Epochs(AudioCnnSize size) => budget.TotalSeconds * rates[size] / (trainClips * 1.05);
        var chosen = Epochs(AudioCnnSize.Large) >= EpochsToConverge ? AudioCnnSize.Large : AudioCnnSize.Small;
        output.WriteLine($"Network: {chosen} CNN. Measured here: Large {rates[AudioCnnSize.Large]:F0} and Small {rates[AudioCnnSize.Small]:F0} training examples/s, " +
                         $"so {budget.TotalSeconds:F0} s fit about {Epochs(AudioCnnSize.Large):F0} and {Epochs(AudioCnnSize.Small):F0} epochs of {trainClips} clips " +
                         $"(Large needs about {EpochsToConverge}; --size or --time to choose otherwise).");
        if (Epochs(chosen) < EpochsToConverge / 3)
            output.WriteLine($"  warning: about {Epochs(chosen):F0} epochs fit in {budget.TotalSeconds:F0} s; the model may be undertrained (give more --time).");
        return chosen;
    }

    /// <summary>Prints ML.NET's multiclass metrics, one per line, then the confusion matrix.</summary>
    public static MulticlassClassificationMetrics Evaluate(MLContext ml, ITransformer model, ITransformer labelMap, IDataView files, TextWriter output)
    {
        var scored = model.Transform(labelMap.Transform(files));
        var metrics = ml.MulticlassClassification.Evaluate(scored, "Label", "Score", "PredictedLabel");
        output.WriteLine($"MicroAccuracy: {metrics.MicroAccuracy:F4}");
        output.WriteLine($"MacroAccuracy: {metrics.MacroAccuracy:F4}");
        output.WriteLine($"LogLoss: {metrics.LogLoss:F4}");
        output.WriteLine($"LogLossReduction: {metrics.LogLossReduction:F4}");
        output.WriteLine();
        output.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());
        return metrics;
    }
}

/// <summary>Shows the trainer's epoch log lines (from MLContext.Log) as a progress display.</summary>
public sealed class ConsoleProgress(TextWriter output)
{
    private static readonly System.Text.RegularExpressions.Regex EpochLine = new(@"\] (Epoch (\d+)/(\d+): .*)$");
    public int Epochs { get; set; }

    public void OnLog(object? sender, LoggingEventArgs e)
    {
        if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) { output.WriteLine($"  warning: {e.Message}"); return; }
        var m = EpochLine.Match(e.Message);
        if (m.Success)
        {
            int k = int.Parse(m.Groups[2].Value), n = int.Parse(m.Groups[3].Value);
            int filled = (int)Math.Round(20.0 * k / n);
            output.WriteLine($"  [{new string('#', filled)}{new string('.', 20 - filled)}] {m.Groups[1].Value}");
        }
        else if (e.Message.Contains("Stopping early") || e.Message.Contains("Restored the weights")
                 || e.Message.Contains("training examples"))
        {
            output.WriteLine("  " + e.Message[(e.Message.IndexOf(']') + 2)..]);
        }
    }
}
