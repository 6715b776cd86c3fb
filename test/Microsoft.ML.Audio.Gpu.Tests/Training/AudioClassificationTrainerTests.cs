using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

[TestClass]
public sealed class AudioClassificationTrainerTests
{
    private const int Rate = 8000, Samples = 2000; // 0.25 s

    public sealed class Clip
    {
        [VectorType(Samples)] public float[] Audio { get; set; } = [];
        public string Word { get; set; } = "";
    }

    /// <summary>Three "words": a low tone, a high tone and a rising chirp, at random pitch offsets, phases, gains and
    /// onsets, in noise. A classifier must learn spectral shape, not one exact pattern.</summary>
    public static Clip[] Clips(int perClass, int seed)
    {
        var rng = new Random(seed);
        var clips = new List<Clip>();
        string[] words = ["low", "high", "rise"];
        for (int i = 0; i < perClass; i++)
            foreach (var word in words)
            {
                double f0 = word switch { "low" => 400, "high" => 2200, _ => 600 } * (0.85 + 0.3 * rng.NextDouble());
                double gain = 0.1 + 0.5 * rng.NextDouble(), phase = rng.NextDouble() * 6.28;
                int onset = rng.Next(0, 400), length = rng.Next(900, 1500);
                var audio = new float[Samples];
                for (int t = 0; t < Samples; t++)
                {
                    double noise = (rng.NextDouble() * 2 - 1) * 0.02;
                    double s = 0;
                    int u = t - onset;
                    if (u >= 0 && u < length)
                    {
                        double time = u / (double)Rate;
                        double f = word == "rise" ? f0 + 2500 * u / (double)length : f0;
                        s = gain * Math.Sin(2 * Math.PI * f * time + phase) * Math.Sin(Math.PI * u / length);
                    }
                    audio[t] = (float)(s + noise);
                }
                clips.Add(new Clip { Audio = audio, Word = word });
            }
        return [.. clips];
    }

    private static IDataView Load(MLContext ml, Clip[] clips)
    {
        var definition = SchemaDefinition.Create(typeof(Clip));
        definition[nameof(Clip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, Rate, NumberDataViewType.Int32);
        return ml.Data.LoadFromEnumerable(clips, definition);
    }

    /// <summary>float32 probabilities of the same network in two processes: a few ulps.</summary>
    private const double ScoreRelTol = 1e-6;

    private static MelSpectrogramOptions FrontEnd => new() { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 };

    private static IEstimator<ITransformer> SpectrogramPipeline(MLContext ml, AudioClassificationOptions options)
        => ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(Clip.Audio), FrontEnd))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedWord", "PredictedLabel"));

    private static IEstimator<ITransformer> RawAudioPipeline(MLContext ml, AudioClassificationOptions options)
        => ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedWord", "PredictedLabel"));

    private static AudioClassificationTransformer Classifier(ITransformer model)
        => ((IEnumerable<ITransformer>)model).OfType<AudioClassificationTransformer>().Single();

    [TestMethod]
    public void Fit_OnSpectrograms_Learns_AndEvaluates()
    {
        var ml = new MLContext(1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) if (e.Message.Contains("] Epoch ")) log.Add(e.Message); };
        var model = SpectrogramPipeline(ml, new AudioClassificationOptions { Epochs = 12, BatchSize = 16 }).Fit(Load(ml, Clips(20, 1)));
        var history = Classifier(model).TrainingHistory;

        Assert.HasCount(12, history);
        Assert.IsLessThan(history[0].Loss, history[^1].Loss, "training loss falls");
        Assert.HasCount(12, log, "each epoch is logged");
        StringAssert.Contains(log[0], "Epoch 1/12: loss ");
        StringAssert.Contains(log[0], "accuracy");

        var test = model.Transform(Load(ml, Clips(10, 99)));
        var metrics = ml.MulticlassClassification.Evaluate(test);
        Assert.IsGreaterThan(0.8, metrics.MicroAccuracy, $"accuracy {metrics.MicroAccuracy:P1} on unseen clips (chance: 33%)");
        var words = ml.Data.CreateEnumerable<Prediction>(test, false).ToArray();
        CollectionAssert.IsSubsetOf(words.Select(w => w.PredictedWord).Distinct().ToArray(), new[] { "low", "high", "rise" });
    }

    public sealed class Prediction
    {
        public string Word { get; set; } = "";
        public string PredictedWord { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    [TestMethod]
    public void Fit_OnRawAudio_WithTrainableFrontEnd_Learns_AndTheFilterbankMoves()
    {
        var ml = new MLContext(1);
        var options = new AudioClassificationOptions { FeatureColumnName = nameof(Clip.Audio), FrontEnd = FrontEnd, TrainFrontEnd = true, Epochs = 12, BatchSize = 16 };
        var model = RawAudioPipeline(ml, options).Fit(Load(ml, Clips(20, 1)));
        var classifier = Classifier(model);
        var learned = Compare.ToArray(classifier.Network.front_end!.mel.Filterbank);
        var initial = Microsoft.ML.Audio.Gpu.Layers.Functional.melscale_fbanks_array(129, 0, 4000, 32, Rate).Select(v => (float)v).ToArray();
        Assert.IsTrue(learned.Zip(initial).Any(p => Math.Abs(p.First - p.Second) > 1e-4), "the mel filterbank was trained");

        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(Load(ml, Clips(10, 99))));
        Assert.IsGreaterThan(0.8, metrics.MicroAccuracy, $"accuracy {metrics.MicroAccuracy:P1} (chance: 33%)");
    }

    [TestMethod]
    public void Fit_OnRawAudio_WithWaveformAugmentationAndMixup_Learns()
    {
        var ml = new MLContext(1);
        var noise = new Random(4);
        var options = new AudioClassificationOptions
        {
            FeatureColumnName = nameof(Clip.Audio), FrontEnd = FrontEnd, Epochs = 12, BatchSize = 16, MixupAlpha = 0.2,
            AudioAugmentation = new AudioAugmentationOptions { NoiseClips = [.. Enumerable.Range(0, 3).Select(k => Enumerable.Range(0, 3000 + 500 * k).Select(_ => (float)(noise.NextDouble() - 0.5)).ToArray())] },
        };
        var model = RawAudioPipeline(ml, options).Fit(Load(ml, Clips(20, 1)));
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(Load(ml, Clips(10, 99))));
        Assert.IsGreaterThan(0.8, metrics.MicroAccuracy, $"accuracy {metrics.MicroAccuracy:P1} (chance: 33%)");
        // The augmentation is not part of the model: scoring the same rows twice gives the same scores.
        var a = ml.Data.CreateEnumerable<Prediction>(model.Transform(Load(ml, Clips(2, 7))), false).Select(p => p.Score).ToArray();
        var b = ml.Data.CreateEnumerable<Prediction>(model.Transform(Load(ml, Clips(2, 7))), false).Select(p => p.Score).ToArray();
        for (int i = 0; i < a.Length; i++) CollectionAssert.AreEqual(a[i], b[i]);
    }

    [TestMethod]
    public void Fit_WithBcResNet_OnSpectrograms_Learns()
    {
        var ml = new MLContext(1);
        var options = new AudioClassificationOptions { Backbone = AudioBackbone.BcResNet, BcResNetSize = BcResNetSize.Tau1, Epochs = 12, BatchSize = 16 };
        var model = SpectrogramPipeline(ml, options).Fit(Load(ml, Clips(20, 1)));
        Assert.IsInstanceOfType<BcResNet>(Classifier(model).Module);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(Load(ml, Clips(10, 99))));
        // 9 k weights and 12 short epochs on 60 clips: 80% measured on the CPU with seed 1 (chance: 33%).
        Assert.IsGreaterThan(0.7, metrics.MicroAccuracy, $"accuracy {metrics.MicroAccuracy:P1} (chance: 33%)");
    }

    [TestMethod]
    public void StreamTrainingData_ReadsBatchesFromTheDataView_AndLearns()
    {
        var ml = new MLContext(1);
        var options = new AudioClassificationOptions { Epochs = 12, BatchSize = 16, StreamTrainingData = true };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(Clip.Audio), FrontEnd));
        var prep = pipeline.Fit(Load(ml, Clips(20, 1)));
        options.ValidationSet = prep.Transform(Load(ml, Clips(5, 42)));
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("training examples")) lock (log) log.Add(e.Message); };
        var classifier = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(prep.Transform(Load(ml, Clips(20, 1))));

        Assert.IsTrue(log.Any(m => m.Contains("60 training examples (streamed from the data view each epoch)")), string.Join("\n", log));
        Assert.AreEqual(12, classifier.TrainingHistory.Count);
        Assert.IsTrue(classifier.TrainingHistory.All(h => h.ValidationAccuracy is not null));
        var metrics = ml.MulticlassClassification.Evaluate(classifier.Transform(prep.Transform(Load(ml, Clips(10, 99)))));
        Assert.IsGreaterThan(0.8, metrics.MicroAccuracy, $"accuracy {metrics.MicroAccuracy:P1} (chance: 33%)");
    }

    [TestMethod]
    public void Fit_IsRepeatable_OnCpu_ForTheSameSeed()
    {
        float[][] Scores()
        {
            var ml = new MLContext(7);
            var model = SpectrogramPipeline(ml, new AudioClassificationOptions { Epochs = 3, BatchSize = 16 }).Fit(Load(ml, Clips(8, 1)));
            return ml.Data.CreateEnumerable<Prediction>(model.Transform(Load(ml, Clips(3, 5))), false).Select(p => p.Score).ToArray();
        }
        var a = Scores();
        var b = Scores();
        for (int i = 0; i < a.Length; i++) CollectionAssert.AreEqual(a[i], b[i], $"row {i}");
    }

    /// <summary>A clock that moves 1 ms each time it is read, so a budgeted run is the same on every machine and load
    /// (a budget on the real clock depends on how busy the machine is: an epoch slower than the pace before it ends a run
    /// wherever the clock is).</summary>
    private sealed class TickingClock : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => 1000;
        public override long GetTimestamp() => ++_ticks;
    }

    [TestMethod]
    public void MaxTrainingTime_RunsTheEpochsThatFit_AndAnnealsTheRateOverThem()
    {
        var ml = new MLContext(1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Time budget")) lock (log) log.Add(e.Message); };
        // 24 examples in batches of 16 read the clock 7 times an epoch (2 per step): 100 ms is 14 epochs.
        var options = new AudioClassificationOptions { Epochs = 500, BatchSize = 16, MaxTrainingTime = TimeSpan.FromMilliseconds(100), Clock = new TickingClock() };
        var history = Classifier(SpectrogramPipeline(ml, options).Fit(Load(ml, Clips(8, 1)))).TrainingHistory;

        Assert.IsTrue(history.Count is >= 12 and <= 15, $"{history.Count} epochs");
        // Epochs are planned from the pace so far: the run ends within about one epoch of the budget (the epochs' own
        // time is 5 of the 7 clock reads an epoch; the planning between epochs takes the rest).
        Assert.AreEqual(1, log.Count(m => m.Contains($"Time budget reached after 0 s and {history.Count} epochs")), string.Join("\n", log));
        Assert.IsTrue(history.Sum(h => h.Seconds) <= 0.1, $"{history.Sum(h => h.Seconds):F3} s spent in epochs for a 0.1 s budget");
        // The cosine is fitted to the epochs that fit, not to the 500 allowed: the last epoch ends at a rate of about 0.
        Assert.IsTrue(history[^1].LearningRate < 0.01 * options.LearningRate, $"last rate {history[^1].LearningRate}");
        Assert.IsTrue(history[history.Count / 2].LearningRate is > 0.2e-3 and < 2.8e-3, $"rate half way {history[history.Count / 2].LearningRate}");
        Assert.IsTrue(history.Zip(history.Skip(1)).All(p => p.Second.LearningRate <= p.First.LearningRate), "the rate only goes down");
    }

    [TestMethod]
    public void BadOptions_AreRefused_NamingTheOption()
    {
        var ml = new MLContext(1);
        var cases = new (AudioClassificationOptions options, string name)[]
        {
            (new() { MaxTrainingTime = TimeSpan.Zero }, nameof(AudioClassificationOptions.MaxTrainingTime)),
            (new() { MaxTrainingTime = TimeSpan.FromSeconds(-1) }, nameof(AudioClassificationOptions.MaxTrainingTime)),
            (new() { Epochs = 0 }, nameof(AudioClassificationOptions.Epochs)),
            (new() { BatchSize = 0 }, nameof(AudioClassificationOptions.BatchSize)),
            (new() { Dropout = 1 }, nameof(AudioClassificationOptions.Dropout)),
            (new() { MixupAlpha = -0.1 }, nameof(AudioClassificationOptions.MixupAlpha)),
            (new() { AudioAugmentation = new() }, nameof(AudioClassificationOptions.AudioAugmentation)),
            (new() { FrontEnd = FrontEnd, AudioAugmentation = new() { NoiseClips = [] } }, nameof(AudioAugmentationOptions.NoiseClips)),
            (new() { FrontEnd = FrontEnd, AudioAugmentation = new() { NoiseClips = [[1f, float.NaN]] } }, nameof(AudioAugmentationOptions.NoiseClips)),
        };
        foreach (var (options, name) in cases)
        {
            var e = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.AudioClassification(options));
            Assert.AreEqual(name, e.ParamName, e.Message);
        }
    }

    [TestMethod]
    public void WithoutABudget_TheRateAnnealsOverTheGivenEpochs()
    {
        var ml = new MLContext(1);
        var classifier = Classifier(SpectrogramPipeline(ml, new AudioClassificationOptions { Epochs = 4, BatchSize = 16 }).Fit(Load(ml, Clips(8, 1))));
        var rates = classifier.TrainingHistory.Select(h => h.LearningRate).ToArray();
        Assert.AreEqual(4, rates.Length);
        // Per step along one cosine: after epoch k of 4, the last step is just short of progress k/4.
        for (int k = 1; k <= 4; k++)
            Assert.IsTrue(rates[k - 1] >= 3e-3 * 0.5 * (1 + Math.Cos(Math.PI * k / 4)) - 1e-12 && rates[k - 1] <= 3e-3 * 0.5 * (1 + Math.Cos(Math.PI * (k - 1) / 4)),
                $"epoch {k}: {rates[k - 1]}");
        Assert.IsTrue(rates[3] < 3e-3 * 0.2);
    }

    [TestMethod]
    public void ValidationSet_KeepsTheBestEpoch_AndReportsValidationAccuracy()
    {
        var ml = new MLContext(1);
        var options = new AudioClassificationOptions { Epochs = 10, BatchSize = 16, EarlyStoppingPatience = 3 };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(Clip.Audio), FrontEnd));
        var prep = pipeline.Fit(Load(ml, Clips(12, 1)));
        options.ValidationSet = prep.Transform(Load(ml, Clips(5, 42)));
        var classifier = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(prep.Transform(Load(ml, Clips(12, 1))));

        Assert.IsTrue(classifier.TrainingHistory.All(h => h.ValidationAccuracy is not null));
        var best = classifier.TrainingHistory.Max(h => h.ValidationAccuracy!.Value);
        Assert.AreEqual(best, classifier.TrainingHistory[classifier.SelectedEpoch - 1].ValidationAccuracy);
        var metrics = ml.MulticlassClassification.Evaluate(classifier.Transform(options.ValidationSet));
        Assert.AreEqual(best, metrics.MicroAccuracy, 1e-9, "the kept weights are those of the best validation epoch");
    }

    [TestMethod]
    [DataRow(false, AudioBackbone.Cnn)]
    [DataRow(true, AudioBackbone.Cnn)]
    [DataRow(false, AudioBackbone.BcResNet)]
    [DataRow(true, AudioBackbone.BcResNet)]
    public void SavedModel_LoadsInANewProcess_WithIdenticalScores(bool rawAudio, AudioBackbone backbone)
    {
        var ml = new MLContext(1);
        var options = rawAudio
            ? new AudioClassificationOptions { FeatureColumnName = nameof(Clip.Audio), FrontEnd = FrontEnd, TrainFrontEnd = true, Epochs = 2, BatchSize = 16, Backbone = backbone, BcResNetSize = BcResNetSize.Tau1 }
            : new AudioClassificationOptions { Epochs = 2, BatchSize = 16, NetworkSize = AudioCnnSize.Large, Backbone = backbone, BcResNetSize = BcResNetSize.Tau2 };
        var data = Load(ml, Clips(6, 1));
        var model = (rawAudio ? RawAudioPipeline(ml, options) : SpectrogramPipeline(ml, options)).Fit(data);
        var expected = ml.Data.CreateEnumerable<Prediction>(model.Transform(data), false).ToArray();

        var dir = Directory.CreateTempSubdirectory("kapre-classifier-");
        try
        {
            string zip = Path.Combine(dir.FullName, "model.zip"), input = Path.Combine(dir.FullName, "in.idv"), output = Path.Combine(dir.FullName, "out.idv");
            ml.Model.Save(model, data.Schema, zip);
            using (var f = File.Create(input)) ml.Data.SaveAsBinary(data, f);
            var (exit, log) = SecondProcess.Run("transform", zip, input, output);
            Assert.AreEqual(0, exit, log);
            var actual = ml.Data.CreateEnumerable<Prediction>(ml.Data.LoadFromBinary(output), false).ToArray();
            Assert.HasCount(expected.Length, actual);
            for (int i = 0; i < expected.Length; i++)
            {
                // The same weights and inputs; oneDNN may pick another convolution kernel in another process, which
                // can move a probability by an ulp or two (seen: 0.21909288 vs 0.21909286).
                Compare.RelativeToMax(actual[i].Score, expected[i].Score, ScoreRelTol, $"row {i}");
                Assert.AreEqual(expected[i].PredictedWord, actual[i].PredictedWord);
            }

            // In this process too, through a PredictionEngine on a model loaded by a new context (CPU only here).
            var loaded = new MLContext(5).Model.Load(zip, out _);
            Assert.AreEqual(TorchSharp.DeviceType.CPU, Classifier(loaded).Device.type);
            var engine = ml.Model.CreatePredictionEngine<Clip, Prediction>(loaded);
            Compare.RelativeToMax(engine.Predict(Clips(6, 1)[2]).Score, expected[2].Score, ScoreRelTol, "PredictionEngine");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void Fit_Throws_NamingTheLabelColumn_WhenItIsNotAKey()
    {
        var ml = new MLContext(1);
        var data = ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(Clip.Audio), FrontEnd).Fit(Load(ml, Clips(2, 1))).Transform(Load(ml, Clips(2, 1)));
        var trainer = ml.MulticlassClassification.Trainers.AudioClassification(labelColumnName: nameof(Clip.Word));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        StringAssert.Contains(e.Message, "'Word'");
        StringAssert.Contains(e.Message, "MapValueToKey");
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(Shapes.From(data.Schema)));
        StringAssert.Contains(e2.Message, "'Word'");
    }

    [TestMethod]
    public void Fit_Throws_NamingTheFeatureColumn_WhenItIsAudioButNoFrontEndIsSet()
    {
        var ml = new MLContext(1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word)).Fit(Load(ml, Clips(2, 1))).Transform(Load(ml, Clips(2, 1)));
        var trainer = ml.MulticlassClassification.Trainers.AudioClassification(featureColumnName: nameof(Clip.Audio));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(data));
        StringAssert.Contains(e.Message, "'Audio'");
        StringAssert.Contains(e.Message, "[mels, frames]");
    }

    [TestMethod]
    public void Transform_Throws_NamingTheFeatureColumn_WhenItsShapeDiffersFromTraining()
    {
        var ml = new MLContext(1);
        var model = SpectrogramPipeline(ml, new AudioClassificationOptions { Epochs = 1, BatchSize = 16 }).Fit(Load(ml, Clips(4, 1)));
        var classifier = Classifier(model);
        var other = ml.Transforms.Conversion.MapValueToKey("Label", nameof(Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(Clip.Audio), new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 40, MaxFrequency = 4000 }))
            .Fit(Load(ml, Clips(1, 1))).Transform(Load(ml, Clips(1, 1)));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => classifier.Transform(other));
        StringAssert.Contains(e.Message, "'Features'");
        StringAssert.Contains(e.Message, "[32, 32]");
    }
}
