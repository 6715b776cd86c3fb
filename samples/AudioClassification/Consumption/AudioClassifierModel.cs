// Consumption code, Model Builder style: copy this file into an app that only predicts. It needs the Kapre.MLNet,
// Microsoft.ML and TorchSharp packages and a libtorch backend (libtorch-cpu-linux-x64, or TorchSharp-cuda-linux).
using Microsoft.ML;
using Microsoft.ML.Data;

namespace AudioClassification.Consumption;

/// <summary>What the model reads: the path of an audio file (WAV, any common sample rate and length).</summary>
public sealed class ModelInput
{
    /// <summary>Path of the audio file.</summary>
    [ColumnName("Path")]
    public string Path { get; set; } = "";
}

/// <summary>What the model writes.</summary>
public sealed class ModelOutput
{
    /// <summary>The predicted class (a folder name of the training data).</summary>
    [ColumnName("PredictedClass")]
    public string PredictedLabel { get; set; } = "";

    /// <summary>Probability of each class, in the order of <see cref="AudioClassifierModel.ClassNames"/>.</summary>
    [ColumnName("Score")]
    public float[] Score { get; set; } = [];
}

/// <summary>Loads a trained model zip once and predicts single files.</summary>
public static class AudioClassifierModel
{
    /// <summary>Where <see cref="Predict(ModelInput)"/> loads the model from: the sample's default output.</summary>
    public static string ModelPath { get; set; } = System.IO.Path.GetFullPath("AudioClassifier.zip");

    private static readonly object Gate = new();
    private static (string path, DateTime written, MLContext ml, ITransformer model, PredictionEngine<ModelInput, ModelOutput> engine)? _loaded;

    /// <summary>Predicts the class of one file with the model at <see cref="ModelPath"/>.</summary>
    public static ModelOutput Predict(ModelInput input)
    {
        lock (Gate) // a PredictionEngine is not thread-safe
        {
            return Engine().Predict(input);
        }
    }

    /// <summary>Class names in score order, read from the model's Score column.</summary>
    public static string[] ClassNames
    {
        get
        {
            lock (Gate)
            {
                Engine();
                return ClassNamesOf(_loaded!.Value.model.GetOutputSchema(_loaded.Value.ml.Data.LoadFromEnumerable(Array.Empty<ModelInput>()).Schema));
            }
        }
    }

    /// <summary>Class names in score order: the slot names of the Score column of a model's output schema.</summary>
    public static string[] ClassNamesOf(DataViewSchema outputSchema)
    {
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        outputSchema["Score"].GetSlotNames(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    private static PredictionEngine<ModelInput, ModelOutput> Engine()
    {
        var written = File.GetLastWriteTimeUtc(ModelPath);
        if (_loaded is not { } l || l.path != ModelPath || l.written != written)
        {
            // GpuDeviceId 0 with fallback: CUDA device 0 when the app has the CUDA backend and a GPU, else the CPU.
            var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
            var model = ml.Model.Load(ModelPath, out _);
            _loaded = (ModelPath, written, ml, model, ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model));
        }
        return _loaded.Value.engine;
    }
}
