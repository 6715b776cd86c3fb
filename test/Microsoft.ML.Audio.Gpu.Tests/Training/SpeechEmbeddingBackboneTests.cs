using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>
/// The trainer with <see cref="AudioBackbone.SpeechEmbedding"/>: a frozen backbone keeps the pretrained weights and trains
/// only the head; fine-tuning changes the backbone too; a fine-tuned model saves, loads in a new process and predicts
/// on the CPU with the same scores; wrong inputs and option mixes fail naming what is wrong.
/// </summary>
[TestClass]
public sealed class SpeechEmbeddingBackboneTests
{
    private const int Rate = 16000, Samples = 12000; // 0.75 s

    public sealed class Clip
    {
        [VectorType(Samples)] public float[] Audio { get; set; } = [];
        public string Word { get; set; } = "";
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];
        public string PredictedWord { get; set; } = "";
    }

    /// <summary>The trainer tests' three "words" (low tone, high tone, rising chirp), at 16 kHz.</summary>
    private static Clip[] Clips(int perClass, int seed)
        => AudioClassificationTrainerTests.Clips(perClass, seed).Select(c => new Clip
        {
            // 8 kHz clips of 2000 samples, each sample repeated: 16 kHz, 4000 samples, padded to 0.75 s.
            Audio = [.. c.Audio.SelectMany(v => new[] { v, v }), .. new float[Samples - 2 * c.Audio.Length]],
            Word = c.Word,
        }).ToArray();

    private static IDataView Load(MLContext ml, Clip[] clips, int rate = Rate)
    {
        var definition = SchemaDefinition.Create(typeof(Clip));
        definition[nameof(Clip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, rate, NumberDataViewType.Int32);
        return ml.Data.LoadFromEnumerable(clips, definition);
    }

    private static IEstimator<ITransformer> Pipeline(MLContext ml, AudioClassificationOptions options)
        => ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedWord", "PredictedLabel"));

    private static AudioClassificationOptions Options(bool fineTune, int epochs) => new()
    {
        FeatureColumnName = nameof(Clip.Audio), Backbone = AudioBackbone.SpeechEmbedding, FineTuneBackbone = fineTune, Epochs = epochs, BatchSize = 8,
    };

    private static AudioClassificationTransformer Classifier(ITransformer model)
        => ((IEnumerable<ITransformer>)model).OfType<AudioClassificationTransformer>().Single();

    private static float[] BackboneWeights(AudioClassificationTransformer classifier)
        => ((SpeechEmbeddingClassifier)classifier.Module).Backbone.parameters().SelectMany(p => Compare.ToArray(p)).ToArray();

    [TestMethod]
    public void Frozen_TrainsTheHeadOnly_AndLearns()
    {
        var ml = new MLContext(1);
        var model = Pipeline(ml, Options(fineTune: false, epochs: 40)).Fit(Load(ml, Clips(8, 1)));
        var classifier = Classifier(model);
        Assert.AreEqual(AudioBackbone.SpeechEmbedding, classifier.Backbone);
        Assert.Throws<InvalidOperationException>(() => classifier.Network, "a speech-embedding model has no CNN");
        using (var pretrained = SpeechEmbedding.Pretrained())
            CollectionAssert.AreEqual(pretrained.parameters().SelectMany(p => Compare.ToArray(p)).ToArray(), BackboneWeights(classifier), "the frozen backbone is unchanged");
        // The head is fitted in one go (logistic regression on the standardised embeddings): one entry, its λ kept.
        var history = classifier.TrainingHistory;
        Assert.HasCount(1, history, "one fit, no epochs");
        Assert.IsGreaterThan(0.9, history[0].Accuracy, "the head fits its training clips");
        Assert.AreEqual(LogisticHead.DefaultL2, classifier.HeadL2Regularization, "without validation data, the default λ");
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word)).Fit(Load(ml, Clips(8, 1))).Transform(Load(ml, Clips(10, 77)))));
        Console.WriteLine($"frozen speech embedding, 24 training clips: held-out accuracy {metrics.MicroAccuracy:P1}");
        // Tones in noise are not speech, and 24 clips are few: the point is that the head learns (chance is 33%).
        Assert.IsGreaterThan(0.6, metrics.MicroAccuracy, "tones at new pitches and onsets are told apart");
    }

    [TestMethod]
    public void FineTuned_ChangesTheBackbone_SavesAndLoadsInANewProcess_WithTheSameScores()
    {
        var ml = new MLContext(1);
        var data = Load(ml, Clips(4, 1));
        var model = Pipeline(ml, Options(fineTune: true, epochs: 2)).Fit(data);
        var classifier = Classifier(model);
        using (var pretrained = SpeechEmbedding.Pretrained())
            CollectionAssert.AreNotEqual(pretrained.parameters().SelectMany(p => Compare.ToArray(p)).ToArray(), BackboneWeights(classifier), "fine-tuning trains the backbone");
        var expected = ml.Data.CreateEnumerable<Prediction>(model.Transform(data), false).ToArray();

        var dir = Directory.CreateTempSubdirectory("kapre-speech-classifier-");
        try
        {
            string zip = Path.Combine(dir.FullName, "model.zip"), input = Path.Combine(dir.FullName, "in.idv"), output = Path.Combine(dir.FullName, "out.idv");
            ml.Model.Save(model, data.Schema, zip);
            using (var f = File.Create(input)) ml.Data.SaveAsBinary(data, f);
            var (exit, log) = SecondProcess.Run("transform", zip, input, output);
            Assert.AreEqual(0, exit, log);
            var actual = ml.Data.CreateEnumerable<Prediction>(ml.Data.LoadFromBinary(output), false).ToArray();
            for (int i = 0; i < expected.Length; i++)
            {
                Compare.RelativeToMax(actual[i].Score, expected[i].Score, 1e-5, $"row {i}");
                Assert.AreEqual(expected[i].PredictedWord, actual[i].PredictedWord);
            }
            var loaded = Classifier(new MLContext(5).Model.Load(zip, out _));
            Assert.AreEqual(AudioBackbone.SpeechEmbedding, loaded.Backbone);
            Assert.AreEqual(TorchSharp.DeviceType.CPU, loaded.Device.type);
            CollectionAssert.AreEqual(BackboneWeights(classifier), BackboneWeights(loaded), "the fine-tuned backbone is saved in the model");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void FineTuned_StartsFromTheFittedHead_AndNeverEndsBelowItOnTheValidationSet()
    {
        // Linear probe, then fine-tune. At a learning rate of 1e-9 an epoch of fine-tuning leaves the model where it
        // started: from the fitted head it predicts what the frozen model predicts (a random head would not).
        var ml = new MLContext(1);
        var labels = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word)).Fit(Load(ml, Clips(8, 1)));
        var train = labels.Transform(Load(ml, Clips(8, 1)));
        var valid = labels.Transform(Load(ml, Clips(6, 33)));
        AudioClassificationTransformer Fit(AudioClassificationOptions options) => ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(train);
        uint[] Predicted(ITransformer model) => [.. model.Transform(valid).GetColumn<uint>("PredictedLabel")];
        double Accuracy(ITransformer model) => ml.MulticlassClassification.Evaluate(model.Transform(valid)).MicroAccuracy;
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("AudioClassification:")) lock (log) log.Add(e.Message); };

        var frozen = Fit(Options(fineTune: false, epochs: 1));
        var still = Options(fineTune: true, epochs: 1);
        still.LearningRate = 1e-9;
        var barelyTuned = Fit(still);
        var a = Predicted(frozen);
        var b = Predicted(barelyTuned);
        double agreement = a.Zip(b).Count(p => p.First == p.Second) / (double)a.Length;
        Console.WriteLine($"labels agreeing with the frozen model after an epoch at a learning rate of 1e-9: {agreement:P0}");
        Assert.IsGreaterThanOrEqualTo(0.9, agreement, "fine-tuning starts from the head the frozen embedding fits");
        Assert.IsTrue(log.Any(m => m.Contains("fine-tuning the speech embedding from the fitted head")), string.Join("\n", log));

        // With validation data the fitted head is epoch 0: the kept model is it or a better epoch on those clips.
        var withValidation = Options(fineTune: true, epochs: 2);
        withValidation.ValidationSet = valid;
        var frozenOptions = Options(fineTune: false, epochs: 1);
        frozenOptions.ValidationSet = valid;
        Assert.IsGreaterThanOrEqualTo(Accuracy(Fit(frozenOptions)), Accuracy(Fit(withValidation)));
    }

    [TestMethod]
    public void Fit_Rejects_OtherRates_FrontEnds_AndFineTuningACnn()
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline(ml, Options(false, 1)).Fit(Load(ml, Clips(2, 1), rate: 8000)));
        StringAssert.Contains(e.Message, "'Audio'");
        StringAssert.Contains(e.Message, "16000 Hz");
        var front = Options(false, 1);
        front.FrontEnd = new MelSpectrogramOptions();
        var e2 = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.AudioClassification(front));
        StringAssert.Contains(e2.Message, "FrontEnd is for the Cnn backbone");
        var e3 = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions { FineTuneBackbone = true }));
        StringAssert.Contains(e3.Message, "FineTuneBackbone applies to a pretrained backbone");
    }
}
