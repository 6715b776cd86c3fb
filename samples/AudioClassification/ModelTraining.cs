using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace AudioClassification;

/// <summary>A configuration the sample can train: a network (or pretrained backbone) and how it is fed.</summary>
/// <param name="Name">How the leaderboard and the output name it.</param>
/// <param name="Backbone">The network.</param>
/// <param name="Size">The CNN's size.</param>
/// <param name="BcResNetSize">BC-ResNet's width.</param>
/// <param name="FineTune">Train the pretrained embedding too.</param>
/// <param name="FrontEndInNetwork">Raw audio in, the log-mel front end as the network's first layers (Kapre's way).</param>
public sealed record Candidate(string Name, AudioBackbone Backbone, AudioCnnSize Size = AudioCnnSize.Small, BcResNetSize BcResNetSize = BcResNetSize.Tau3,
    bool FineTune = false, bool FrontEndInNetwork = false)
{
    /// <summary>Trains by epochs (false: the frozen embedding, whose head is fitted in one go).</summary>
    public bool HasEpochs => !(Backbone == AudioBackbone.SpeechEmbedding && !FineTune);

    /// <summary>Takes the decoded audio (the embedding, or a front end inside the network), not a spectrogram column.</summary>
    public bool RawAudio => Backbone == AudioBackbone.SpeechEmbedding || FrontEndInNetwork;

    public override string ToString() => Name;
}

/// <summary>Training code: the featurizer, the trainer of one candidate, and the evaluation report.</summary>
public static class ModelTraining
{
    /// <summary>
    /// Decoding: mono, 16 kHz, a fixed clip length: a shorter clip is centred in it (silence on both sides, as keyword
    /// recordings are cut), and from a longer one the loudest stretch is kept, so the word is not cut off. Files at any
    /// common sample rate are resampled.
    /// </summary>
    public static LoadAudioOptions LoadingFor(double seconds) => new()
    {
        SampleRate = 16000, DurationSeconds = seconds, Crop = CropAlignment.Loudest, Pad = PadAlignment.Center,
    };

    /// <summary>The decoding of one-second clips (the bundled words, and the spectrogram command).</summary>
    public static LoadAudioOptions Loading => LoadingFor(1.0);

    /// <summary>
    /// The log-mel front end: 25 ms windows, 10 ms hop, 40 Slaney mel bands up to 4 kHz, 80 dB range. Stopping at
    /// 4 kHz makes 8 kHz and 16 kHz recordings look alike, so a model works on telephone-band and wide-band audio.
    /// </summary>
    public static MelSpectrogramOptions FrontEnd => new()
    {
        FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 40, MaxFrequency = 4000,
        MelScale = MelScale.Slaney, MelNorm = MelNorm.Slaney, TopDb = 80,
    };

    /// <summary>Training settings of the sample.</summary>
    public sealed class Settings
    {
        /// <summary>Most epochs of a run; with a time budget, those that fit in it.</summary>
        public int Epochs { get; set; } = 80;
        /// <summary>Time for the whole training (trials, the chosen model, the refit; decoding comes before it).</summary>
        public TimeSpan? MaxTrainingTime { get; set; } = TimeSpan.FromSeconds(DefaultSeconds);
        public int BatchSize { get; set; } = 32;
        /// <summary>Epochs without a better validation accuracy before stopping (0: never; the sample uses 0 with a time budget).</summary>
        public int Patience { get; set; } = 20;
        /// <summary>The configuration when the command line pins one (--backbone, --size, --kapre, --fine-tune); null lets the
        /// data choose.</summary>
        public Candidate? Pinned { get; set; }
        /// <summary>Waveform augmentation on the device (raw audio only).</summary>
        public AudioAugmentationOptions? AudioAugmentation { get; set; }
        /// <summary>With background-noise augmentation: mix in the data's own background recordings (the training files of
        /// <see cref="Dataset.SilenceClass"/> and <see cref="NoiseFiles"/>) rather than generated pink noise, when it has any.</summary>
        public bool NoiseFromData { get; set; }
        /// <summary>Background recordings that are not a class (<see cref="Dataset.NoiseFolder"/>), decoded at 16 kHz.</summary>
        public IReadOnlyList<float[]> NoiseFiles { get; set; } = [];
        /// <summary>Mixup's α; 0 is off.</summary>
        public double MixupAlpha { get; set; }
        /// <summary>Train the chosen configuration on every file for the saved model, after the held-out test.</summary>
        public bool Refit { get; set; } = true;
        /// <summary>Clip length in seconds; null chooses it from the data.</summary>
        public double? ClipSeconds { get; set; }
        public int? GpuDeviceId { get; set; }
        public bool FallbackToCpu { get; set; } = true;
        public int Seed { get; set; } = 1;
    }

    /// <summary>
    /// The waveform augmentation of a training run: <see cref="Settings.AudioAugmentation"/>, with the data's own background
    /// recordings as the noise when <see cref="Settings.NoiseFromData"/> asks for them and there are any. Only this run's
    /// training files of <see cref="Dataset.SilenceClass"/> are used, so no validation or test recording is ever mixed in.
    /// </summary>
    private static AudioAugmentationOptions? Augmentation(Settings settings, List<LabelledFile> train, double clipSeconds, TextWriter output)
    {
        if (settings.AudioAugmentation is not { BackgroundNoise: true, NoiseClips: null } augmentation || !settings.NoiseFromData) return settings.AudioAugmentation;
        var decoding = new AudioDecodeOptions { SampleRate = 16000 };
        // Long recordings (Speech Commands' are a minute or more) are cut into clip-length pieces: the trainer's bank
        // loops every piece to the longest, and at most MaxNoisePieces of them, spread evenly, keep it to a few tens of MB.
        int piece = (int)Math.Round(clipSeconds * 16000);
        var pieces = settings.NoiseFiles.Concat(train.Where(f => f.Label == Dataset.SilenceClass).Select(f => AudioDecoder.Decode(f.Path, decoding).Samples))
            .SelectMany(c => Enumerable.Range(0, Math.Max(1, c.Length / piece)).Select(i => c.AsSpan(i * piece, Math.Min(piece, c.Length - i * piece)).ToArray()))
            .Where(c => c.Length > 0).ToList();
        var clips = pieces.Count <= MaxNoisePieces ? pieces
            : [.. Enumerable.Range(0, MaxNoisePieces).Select(i => pieces[(int)((long)i * pieces.Count / MaxNoisePieces)])];
        if (clips.Count == 0)
        {
            output.WriteLine("  Background noise: the data has no background recordings (_silence_, _background_noise_): generated pink noise.");
            return augmentation;
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  Background noise: {clips.Count} pieces of the data's background recordings ({clips.Sum(c => (double)c.Length) / 16000:F0} s), mixed at 3-30 dB SNR."));
        return new AudioAugmentationOptions
        {
            BackgroundNoise = true, NoiseClips = clips,
            SpeedPerturbation = augmentation.SpeedPerturbation, Reverberation = augmentation.Reverberation,
        };
    }

    /// <summary>Most pieces of background recording in the noise bank (500 pieces of 2 s: 64 MB of floats).</summary>
    private const int MaxNoisePieces = 500;

    /// <summary>The default time budget in seconds.</summary>
    public const int DefaultSeconds = 210;

    /// <summary>The trained model and what is needed to report on it.</summary>
    public sealed record Result(MLContext Context, ITransformer Model, AudioClassificationTransformer Classifier, ITransformer LabelMap, TimeSpan Elapsed);

    /// <summary>Maps the class names to keys in sorted order, so that class order is stable.</summary>
    public static IEstimator<ITransformer> LabelMap(MLContext ml)
        => ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue);

    /// <summary>
    /// Trains <paramref name="candidate"/> on <paramref name="train"/>: for at most <paramref name="epochs"/> epochs, within
    /// <paramref name="budget"/> when given, keeping the epoch best on <paramref name="validation"/> when given.
    /// </summary>
    public static Result Train(List<LabelledFile> train, List<LabelledFile>? validation, Candidate candidate, Settings settings, double clipSeconds,
        int epochs, TimeSpan? budget, TextWriter output, bool showEpochs = true, double? headL2 = null)
    {
        var ml = new MLContext(settings.Seed) { GpuDeviceId = settings.GpuDeviceId, FallbackToCpu = settings.FallbackToCpu };
        var progress = new ConsoleProgress(output) { Epochs = epochs, ShowEpochs = showEpochs };
        ml.Log += progress.OnLog;
        var watch = Stopwatch.StartNew();

        var trainView = Dataset.ToDataView(ml, train);
        var labelMap = LabelMap(ml).Fit(trainView);
        var loading = ml.Transforms.Audio.LoadAudio("Audio", "Path", LoadingFor(clipSeconds));
        IEstimator<ITransformer> featurizer = candidate.RawAudio
            ? loading
            : loading.Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", FrontEnd));
        var featurizerModel = featurizer.Fit(trainView);
        IDataView Prepare(List<LabelledFile> files) => featurizerModel.Transform(labelMap.Transform(Dataset.ToDataView(ml, files)));

        var options = new AudioClassificationOptions
        {
            FeatureColumnName = candidate.RawAudio ? "Audio" : "Features",
            FrontEnd = candidate.FrontEndInNetwork ? FrontEnd : null,
            Backbone = candidate.Backbone,
            FineTuneBackbone = candidate.FineTune,
            NetworkSize = candidate.Size,
            BcResNetSize = candidate.BcResNetSize,
            Epochs = epochs,
            MaxTrainingTime = budget,
            AudioAugmentation = candidate.RawAudio && (candidate.FrontEndInNetwork || candidate.FineTune) ? Augmentation(settings, train, clipSeconds, output) : null,
            MixupAlpha = settings.MixupAlpha,
            BatchSize = settings.BatchSize,
            EarlyStoppingPatience = validation is null ? 0 : settings.Patience,
            HeadL2Regularization = headL2,
            ValidationSet = validation is { Count: > 0 } ? Prepare(validation) : null,
        };
        var classifier = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(Prepare(train));
        var scored = classifier.Transform(Prepare(train.Take(1).ToList()));
        var toClassName = ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(scored);
        var model = new TransformerChain<ITransformer>(featurizerModel, classifier, toClassName);
        watch.Stop();
        return new Result(ml, model, classifier, labelMap, watch.Elapsed);
    }

    /// <summary>Scores <paramref name="files"/> with <paramref name="model"/>: ML.NET's multiclass metrics.</summary>
    public static MulticlassClassificationMetrics Metrics(MLContext ml, ITransformer model, ITransformer labelMap, IDataView files)
        => ml.MulticlassClassification.Evaluate(model.Transform(labelMap.Transform(files)), "Label", "Score", "PredictedLabel");

    /// <summary>Prints ML.NET's multiclass metrics, one per line, then the confusion matrix.</summary>
    public static MulticlassClassificationMetrics Evaluate(MLContext ml, ITransformer model, ITransformer labelMap, IDataView files, TextWriter output)
    {
        var metrics = Metrics(ml, model, labelMap, files);
        Print(metrics, output);
        return metrics;
    }

    /// <summary>Prints ML.NET's multiclass metrics, one per line, then the confusion matrix.</summary>
    public static void Print(MulticlassClassificationMetrics metrics, TextWriter output)
    {
        output.WriteLine($"MicroAccuracy: {metrics.MicroAccuracy:F4}");
        output.WriteLine($"MacroAccuracy: {metrics.MacroAccuracy:F4}");
        output.WriteLine($"LogLoss: {metrics.LogLoss:F4}");
        output.WriteLine($"LogLossReduction: {metrics.LogLossReduction:F4}");
        output.WriteLine();
        output.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());
    }
}

/// <summary>Shows the trainer's epoch log lines (from MLContext.Log) as a progress display.</summary>
public sealed class ConsoleProgress(TextWriter output)
{
    private static readonly System.Text.RegularExpressions.Regex EpochLine = new(@"\] (Epoch (\d+)/(\d+): .*)$");
    public int Epochs { get; set; }
    /// <summary>Print each epoch (false: only warnings, for short trials).</summary>
    public bool ShowEpochs { get; set; } = true;

    public void OnLog(object? sender, LoggingEventArgs e)
    {
        if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) { output.WriteLine($"  warning: {e.Message}"); return; }
        if (!ShowEpochs) return;
        var m = EpochLine.Match(e.Message);
        if (m.Success)
        {
            int k = int.Parse(m.Groups[2].Value), n = int.Parse(m.Groups[3].Value);
            int filled = (int)Math.Round(20.0 * k / n);
            output.WriteLine($"  [{new string('#', filled)}{new string('.', 20 - filled)}] {m.Groups[1].Value}");
        }
        else if (e.Message.Contains("Stopping early") || e.Message.Contains("Restored the weights")
                 || e.Message.Contains("embedded") || e.Message.Contains("fitted the head") || e.Message.Contains("skipped"))
        {
            output.WriteLine("  " + e.Message[(e.Message.IndexOf(']') + 2)..]);
        }
    }
}
