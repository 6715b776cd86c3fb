using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Training;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// libtorch's NNPACK backend is switched off when a transform, trainer or model resolves its device: desktop libtorch
/// never runs NNPACK (oneDNN takes the batches it would), but it asks for it at every single-row convolution and, where
/// NNPACK cannot initialise (this project's machines), logs "Could not initialize NNPACK! Reason: Unsupported hardware."
/// each time: 24 lines in the sample's six predictions.
/// </summary>
[TestClass]
public sealed class NnpackTests
{
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr globalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledNNPACKEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool userEnabledNNPACK(IntPtr context);

    [TestMethod]
    public void ResolvingADevice_SwitchesNnpackOff()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(2, 1000), [1000], 16000);
        ml.Transforms.Audio.GpuStft("Spectrum", "Audio").Fit(data);
        Assert.IsFalse(userEnabledNNPACK(globalContext()), "libtorch's NNPACK setting after a transform was made");
    }

    [TestMethod]
    public void ScoringOneRow_InAFreshProcess_LogsNoNnpackWarning()
    {
        var dir = Directory.CreateTempSubdirectory("nnpack-");
        try
        {
            var ml = new MLContext(1);
            var definition = SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
            definition["Audio"].AddAnnotation(AudioAnnotationKinds.SampleRate, 8000, NumberDataViewType.Int32);
            var train = ml.Data.LoadFromEnumerable(AudioClassificationTrainerTests.Clips(4, 1), definition);
            var model = ml.Transforms.Conversion.MapValueToKey("Label", "Word")
                .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 }))
                .Append(ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions { Epochs = 1, BatchSize = 4 }))
                .Fit(train);
            string zip = Path.Combine(dir.FullName, "model.zip"), input = Path.Combine(dir.FullName, "one.idv"), output = Path.Combine(dir.FullName, "out.idv");
            ml.Model.Save(model, train.Schema, zip);
            // One row: a batch of one, whose small convolutions oneDNN declines, so libtorch considers NNPACK for each.
            using (var file = File.Create(input))
                ml.Data.SaveAsBinary(ml.Data.TakeRows(train, 1), file);

            var (code, log) = SecondProcess.Run("transform", zip, input, output);
            Assert.AreEqual(0, code, log);
            Assert.DoesNotContain("NNPACK", log, "libtorch's log of the scoring process");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
