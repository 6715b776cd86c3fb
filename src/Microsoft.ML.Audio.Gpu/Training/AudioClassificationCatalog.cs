using Microsoft.ML.Audio.Gpu.Training;

namespace Microsoft.ML;

/// <summary>Adds <c>AudioClassification</c> to <c>mlContext.MulticlassClassification.Trainers</c>.</summary>
public static class AudioClassificationCatalog
{
    /// <summary>
    /// Create an <see cref="AudioClassificationTrainer"/>, which trains a TorchSharp convolutional network on a
    /// spectrogram column, or on raw audio with the spectrogram computed by the network's first layers.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">Columns, network, training and front-end settings.</param>
    /// <example>
    /// <code language="csharp">
    /// // Raw 1 s clips in; the log-mel front end runs inside the network (trainable, saved with it); 150 s of training.
    /// var trainer = ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions
    /// {
    ///     FeatureColumnName = "Audio",
    ///     FrontEnd = new MelSpectrogramOptions { FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 64 },
    ///     Backbone = AudioBackbone.BcResNet,
    ///     MaxTrainingTime = TimeSpan.FromSeconds(150),
    ///     ValidationSet = validation,
    /// });
    /// var model = ml.Transforms.Conversion.MapValueToKey("Label", "Word").Append(trainer).Fit(train);
    /// </code>
    /// </example>
    public static AudioClassificationTrainer AudioClassification(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        AudioClassificationOptions options)
        => new(((IInternalCatalog)Runtime.Contracts.CheckRef(catalog, nameof(catalog))).Environment, options);

    /// <summary>
    /// Create an <see cref="AudioClassificationTrainer"/> with default settings for a spectrogram feature column.
    /// </summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Label column, a key type.</param>
    /// <param name="featureColumnName">Feature column: a spectrogram, a known-size vector of Single [mels, frames].</param>
    /// <param name="scoreColumnName">Output column of class probabilities.</param>
    /// <param name="predictedLabelColumnName">Output column of the predicted label.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="validationSet">Data scored after each epoch to keep the best one; null for none.</param>
    /// <example>
    /// <code language="csharp">
    /// var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "Word")
    ///     .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", new MelSpectrogramOptions { MelBinCount = 64 }))
    ///     .Append(ml.MulticlassClassification.Trainers.AudioClassification(epochs: 20))
    ///     .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedWord", "PredictedLabel"));
    /// </code>
    /// </example>
    public static AudioClassificationTrainer AudioClassification(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", string scoreColumnName = "Score",
        string predictedLabelColumnName = "PredictedLabel", int epochs = 30, IDataView? validationSet = null)
        => catalog.AudioClassification(new AudioClassificationOptions
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName, Epochs = epochs, ValidationSet = validationSet,
        });
}
