namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>
/// Options of <see cref="AudioClassificationTrainer"/> (<c>mlContext.MulticlassClassification.Trainers.AudioClassification</c>).
/// </summary>
/// <remarks>
/// Two ways in: a spectrogram feature column (e.g. from <c>MelSpectrogramGpu</c>; leave <see cref="FrontEnd"/> null),
/// or Kapre's way, a raw audio feature column with <see cref="FrontEnd"/> set: the STFT, mel and dB layers then become
/// the first layers of the network, so audio goes to the device once and the spectra never leave it, and with
/// <see cref="TrainFrontEnd"/> the mel filterbank is learned with the network.
/// </remarks>
public sealed class AudioClassificationOptions
{
    /// <summary>Label column: a key type (use <c>MapValueToKey</c>). Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Feature column: a known-size vector of Single, a spectrogram <c>[mels, frames]</c> /
    /// <c>[channels, mels, frames]</c>, or audio <c>[samples]</c> / <c>[channels, samples]</c> when <see cref="FrontEnd"/>
    /// is set. Default "Features".</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>Output column of class probabilities. Default "Score".</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Output column of the predicted label (the label's key type). Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>Front end for raw audio features (STFT → mel → dB inside the network); null when the features are
    /// already a spectrogram. Default null.</summary>
    public MelSpectrogramOptions? FrontEnd { get; set; }

    /// <summary>Learn the front end's mel filterbank with the network (Kapre 2017's <c>trainable_fb</c>). Default false.</summary>
    public bool TrainFrontEnd { get; set; }

    /// <summary>Size of the CNN (<see cref="AudioBackbone.Cnn"/>). Default <see cref="AudioCnnSize.Small"/>.</summary>
    public AudioCnnSize NetworkSize { get; set; } = AudioCnnSize.Small;

    /// <summary>Width of BC-ResNet (<see cref="AudioBackbone.BcResNet"/>): τ = 1 (9 k weights) to 8 (321 k). Default
    /// <see cref="BcResNetSize.Tau3"/>.</summary>
    public BcResNetSize BcResNetSize { get; set; } = BcResNetSize.Tau3;

    /// <summary>Passes over the training data (at most, with <see cref="MaxTrainingTime"/>). Default 30.</summary>
    public int Epochs { get; set; } = 30;

    /// <summary>
    /// Time to train, as Model Builder's "time to train": the learning rate's cosine runs over the budget instead of over
    /// <see cref="Epochs"/>, so it reaches about 0 when the time is up, and training stops after the last epoch that
    /// fits (judged from the pace of the recent epochs; at most <see cref="Epochs"/>). With a validation set the best
    /// epoch is kept as usual. The budget counts from the first epoch (reading the data and, for a frozen pretrained
    /// backbone, embedding it come before). A run's epoch count then depends on the machine's speed, so it no longer
    /// repeats exactly. Default null: exactly <see cref="Epochs"/> epochs.
    /// </summary>
    public TimeSpan? MaxTrainingTime { get; set; }

    /// <summary>The clock <see cref="MaxTrainingTime"/> and the epochs' durations are read from: the system's, or a
    /// test's that makes a budgeted run repeatable.</summary>
    internal TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>Examples per optimisation step (and per inference batch). Default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Peak learning rate of AdamW, annealed to 0 along a cosine over the training steps. Default 0.003.</summary>
    public double LearningRate { get; set; } = 3e-3;

    /// <summary>The network: a CNN (<see cref="AudioBackbone.Cnn"/>, the default) or BC-ResNet (<see cref="AudioBackbone.BcResNet"/>) trained from scratch, or Google's pretrained
    /// speech embedding with a new head (<see cref="AudioBackbone.SpeechEmbedding"/>), which needs 16 kHz mono audio as
    /// the feature column (LoadAudio with SampleRate 16000) and learns spoken words from a few clips per class.</summary>
    public AudioBackbone Backbone { get; set; } = AudioBackbone.Cnn;

    /// <summary>With the speech-embedding backbone: train the embedding too, with augmentation, starting from the head the
    /// frozen embedding fits (a linear probe, then fine-tuning: embedding and head at a tenth of <see cref="LearningRate"/>;
    /// with a <see cref="ValidationSet"/>, the fitted head is kept if no epoch beats it). Default false: the embedding stays frozen, each clip is embedded once, and the head is fitted as
    /// logistic regression on the standardised embeddings (<see cref="HeadL2Regularization"/>; under a second on a CPU).</summary>
    public bool FineTuneBackbone { get; set; }

    /// <summary>With a frozen speech embedding: λ of the logistic-regression head's penalty on its weights (mean
    /// cross-entropy plus λ·‖W‖² over the standardised embeddings). Default null: the best of 0.001 to 0.1 on the
    /// <see cref="ValidationSet"/> when there is one, else 0.01.</summary>
    public double? HeadL2Regularization { get; set; }

    /// <summary>With a frozen speech embedding, train its head by epochs of AdamW (the way before the head was fitted as
    /// logistic regression): kept to measure the two against each other (docs/transfer-learning.md).</summary>
    internal bool FrozenHeadByGradient { get; set; }

    /// <summary>AdamW's decoupled weight decay. Default 0.01.</summary>
    public double WeightDecay { get; set; } = 1e-2;

    /// <summary>Dropout after each conv block and before the classifier. Default 0.2.</summary>
    public double Dropout { get; set; } = 0.2;

    /// <summary>Label smoothing of the cross-entropy loss. Default 0.1.</summary>
    public double LabelSmoothing { get; set; } = 0.1;

    /// <summary>Augment while training: random time shifts of up to 10% of the clip, random gain of ±6 dB (audio
    /// features) and SpecAugment masks (2 × up to 8 mel bands, 2 × up to 10% of the frames). Default true.</summary>
    public bool Augment { get; set; } = true;

    /// <summary>Waveform augmentation on the device while training (background noise, speed perturbation, reverberation):
    /// for raw audio features, i.e. with a <see cref="FrontEnd"/> or a fine-tuned speech embedding. Default null: none
    /// (beyond <see cref="Augment"/>).</summary>
    public AudioAugmentationOptions? AudioAugmentation { get; set; }

    /// <summary>Mixup (Zhang et al. 2018): each training example is mixed with another of the batch, and so are their
    /// labels, with a weight drawn from Beta(α, α); this is α. 0 turns it off. Default 0.</summary>
    public double MixupAlpha { get; set; }

    /// <summary>Read the training and validation data from their data views on every epoch, through a shuffled pool of
    /// batches, instead of holding it in memory: for data larger than memory (it is also done, with a message, when the
    /// features would take more than 4 GiB). Each epoch then runs the view's pipeline again, so cache or save the
    /// featurized data first (ML.NET's binary format: <c>mlContext.Data.SaveAsBinary</c> and <c>LoadFromBinary</c>).
    /// Default false.</summary>
    public bool StreamTrainingData { get; set; }

    /// <summary>Data scored after each epoch; with it, the epoch with the best validation accuracy is kept and training
    /// stops after <see cref="EarlyStoppingPatience"/> epochs without improvement. Default null.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>Epochs without a better validation accuracy before training stops; 0 never stops early. Default 10.</summary>
    public int EarlyStoppingPatience { get; set; } = 10;

    internal void Validate()
    {
        foreach (var (value, name) in new[] { (LabelColumnName, nameof(LabelColumnName)), (FeatureColumnName, nameof(FeatureColumnName)),
                     (ScoreColumnName, nameof(ScoreColumnName)), (PredictedLabelColumnName, nameof(PredictedLabelColumnName)) })
            if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} must name a column.", name);
        Layers.Check.Defined(NetworkSize, nameof(NetworkSize));
        Layers.Check.Defined(BcResNetSize, nameof(BcResNetSize));
        Layers.Check.Positive(Epochs, nameof(Epochs));
        if (MaxTrainingTime is TimeSpan t && t <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(MaxTrainingTime), t, $"MaxTrainingTime must be positive (or null for no limit), got: {t}");
        Layers.Check.Positive(BatchSize, nameof(BatchSize));
        Layers.Check.Positive(LearningRate, nameof(LearningRate));
        Layers.Check.NonNegative(WeightDecay, nameof(WeightDecay));
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, $"Dropout must be in [0, 1), got: {Dropout}");
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1)) throw new ArgumentOutOfRangeException(nameof(LabelSmoothing), LabelSmoothing, $"LabelSmoothing must be in [0, 1), got: {LabelSmoothing}");
        if (HeadL2Regularization is double l2 && !(l2 >= 0 && double.IsFinite(l2)))
            throw new ArgumentOutOfRangeException(nameof(HeadL2Regularization), l2, $"HeadL2Regularization must be 0 or positive (or null to choose it), got: {l2}");
        if (EarlyStoppingPatience < 0) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, $"EarlyStoppingPatience must not be negative, got: {EarlyStoppingPatience}");
        if (!(MixupAlpha >= 0 && double.IsFinite(MixupAlpha))) throw new ArgumentOutOfRangeException(nameof(MixupAlpha), MixupAlpha, $"MixupAlpha must be 0 (off) or positive, got: {MixupAlpha}");
        if (AudioAugmentation is not null && FrontEnd is null && !(Backbone == AudioBackbone.SpeechEmbedding && FineTuneBackbone))
            throw new ArgumentException("AudioAugmentation works on raw audio: set FrontEnd (audio features, the spectrogram inside the network), or fine-tune the speech embedding.", nameof(AudioAugmentation));
        AudioAugmentation?.Validate();
        if (TrainFrontEnd && FrontEnd is null) throw new ArgumentException("TrainFrontEnd needs a FrontEnd: set FrontEnd to train on raw audio.", nameof(TrainFrontEnd));
        FrontEnd?.Validate();
        Layers.Check.Defined(Backbone, nameof(Backbone));
        if (Backbone == AudioBackbone.SpeechEmbedding && FrontEnd is not null)
            throw new ArgumentException("FrontEnd is for the Cnn backbone: the speech embedding has its own front end and takes 16 kHz audio.", nameof(FrontEnd));
        if (FineTuneBackbone && Backbone != AudioBackbone.SpeechEmbedding)
            throw new ArgumentException("FineTuneBackbone applies to a pretrained backbone (AudioBackbone.SpeechEmbedding).", nameof(FineTuneBackbone));
    }

    internal AudioClassificationOptions Clone()
    {
        var c = (AudioClassificationOptions)MemberwiseClone();
        c.FrontEnd = FrontEnd?.Clone();
        c.AudioAugmentation = AudioAugmentation?.Clone();
        return c;
    }
}

/// <summary>Metrics of one training epoch, as logged.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Loss">Mean training loss.</param>
/// <param name="Accuracy">Training accuracy (with augmentation and dropout on).</param>
/// <param name="ValidationAccuracy">Accuracy on the validation set, when there is one.</param>
/// <param name="ValidationLoss">Mean loss on the validation set, when there is one.</param>
/// <param name="Seconds">Wall-clock time of the epoch, validation included.</param>
/// <param name="LearningRate">The learning rate of the epoch's last step (the head's, when parts of the network train at
/// different rates); NaN when not recorded.</param>
public sealed record EpochMetrics(int Epoch, double Loss, double Accuracy, double? ValidationAccuracy, double? ValidationLoss, double Seconds,
    double LearningRate = double.NaN);
