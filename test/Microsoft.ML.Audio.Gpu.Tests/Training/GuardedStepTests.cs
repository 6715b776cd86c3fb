using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>
/// The trainer's guard against a non-finite gradient (<see cref="GuardedStep"/>): a NaN is put into a gradient after a
/// backward pass, as libtorch's oneDNN has done on some CPUs. Without the guard the optimizer takes it and every
/// weight becomes NaN, so each test fails.
/// </summary>
[TestClass]
public sealed class GuardedStepTests
{
    private const int Step = 3; // not the first: its gradients are fresh tensors, later ones accumulate into zeroed ones

    [TestMethod]
    public void ANaNGradientInOnePass_IsRecomputed_AndTheRunEqualsACleanRun()
    {
        var (clean, cleanLog) = Train(null);
        var (guarded, log) = Train((step, attempt, parameters) => { if (step == Step && attempt == 0) PutNaN(parameters); });

        Assert.IsTrue(clean.All(float.IsFinite), "the clean run's scores are finite");
        CollectionAssert.AreEqual(clean, guarded, "the scores of a run whose step 3 had a NaN gradient in its first pass, bit for bit");
        Assert.IsFalse(cleanLog.Any(m => m.Contains("non-finite", StringComparison.Ordinal)), "a clean run reports nothing");
        Assert.IsTrue(log.Any(m => m.Contains("1 training step(s) had a non-finite gradient and were recomputed, 0 were skipped", StringComparison.Ordinal)),
            "the run reports the recomputed step:\n" + string.Join("\n", log));
    }

    [TestMethod]
    public void ANaNGradientInBothPasses_SkipsTheStep_AndTheWeightsStayFinite()
    {
        var (clean, _) = Train(null);
        var (guarded, log) = Train((step, _, parameters) => { if (step == Step) PutNaN(parameters); });

        Assert.IsTrue(guarded.All(float.IsFinite), "no NaN reached the weights");
        CollectionAssert.AreNotEqual(clean, guarded, "one step fewer was taken");
        // One step of 16 × 3 skipped changes little: every clip keeps its class (probabilities within a few hundredths).
        for (int i = 0; i < clean.Length; i++)
            Assert.AreEqual(clean[i], guarded[i], 0.05, $"score {i} with one step skipped");
        Assert.IsTrue(log.Any(m => m.Contains("0 training step(s) had a non-finite gradient and were recomputed, 1 were skipped", StringComparison.Ordinal)),
            "the run reports the skipped step:\n" + string.Join("\n", log));
    }

    /// <summary>Trains 3 epochs on spectrograms of 8 clips per class and returns the scores of unseen clips, flattened,
    /// and the log.</summary>
    private static (float[] scores, List<string> log) Train(Action<long, int, IEnumerable<Parameter>>? afterBackward)
    {
        var ml = new MLContext(1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) if (e.Message.Contains("AudioClassification", StringComparison.Ordinal) || e.Message.Contains("Epoch", StringComparison.Ordinal)) log.Add(e.Message); };
        var trainer = ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions { Epochs = 3, BatchSize = 8 });
        trainer.AfterBackward = afterBackward;
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(AudioClassificationTrainerTests.Clip.Audio),
                new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 }))
            .Append(trainer)
            .Fit(Load(ml, AudioClassificationTrainerTests.Clips(8, 1)));
        var scores = AudioData.Column(model.Transform(Load(ml, AudioClassificationTrainerTests.Clips(2, 99))), "Score");
        ((IEnumerable<ITransformer>)model).OfType<AudioClassificationTransformer>().Single().Dispose();
        return ([.. scores.SelectMany(s => s)], log);
    }

    private static void PutNaN(IEnumerable<Parameter> parameters)
    {
        using var nan = float.NaN.ToScalar();
        using var grad = parameters.First(p => p.grad is not null).grad!;
        grad.fill_(nan);
    }

    private static IDataView Load(MLContext ml, AudioClassificationTrainerTests.Clip[] clips)
    {
        var definition = Microsoft.ML.Data.SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
        definition[nameof(AudioClassificationTrainerTests.Clip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 8000, Microsoft.ML.Data.NumberDataViewType.Int32);
        return ml.Data.LoadFromEnumerable(clips, definition);
    }
}
