using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Training;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// Saved models of every transform and of the trainer, made by one version of the library and committed
/// (<c>Fixtures/models/</c>), so later versions prove they still load them and give the same rows:
/// <c>dotnet exec Microsoft.ML.Audio.Gpu.Tests.dll save-model-fixtures DIR</c> writes <c>NAME.zip</c>, the input
/// (<c>input.idv</c>, <c>clips.idv</c>) and each model's output on it (<c>NAME.idv</c>).
/// </summary>
public static class ModelFixtures
{
    public const string Command = "save-model-fixtures";

    /// <summary>Model name → (pipeline, whether it reads the labelled clips rather than noise rows, output column).</summary>
    public static IEnumerable<(string name, Func<MLContext, IEstimator<ITransformer>> pipeline, bool clips, string column)> Models =>
    [
        ("stft", ml => ml.Transforms.Audio.GpuStft("Out", "Audio", new GpuStftOptions { FftLength = 256, WindowLength = 200, HopLength = 100, Power = 1 }), false, "Out"),
        ("stft-mel-decibel", ml => ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = 256 })
            .Append(ml.Transforms.Audio.GpuMel("Mel", "Spec", new GpuMelOptions { MelBinCount = 24, MelScale = MelScale.Slaney, MelNorm = MelNorm.Slaney }))
            .Append(ml.Transforms.Audio.GpuDecibel("Out", "Mel", new GpuDecibelOptions { TopDb = 50 })), false, "Out"),
        ("melspectrogram", ml => ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", new MelSpectrogramOptions
            { FftLength = 256, HopLength = 64, MelBinCount = 30, Window = WindowType.Hamming, MaxFrequency = 6000 }), false, "Out"),
        ("melspectrogram-linear", ml => ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", new MelSpectrogramOptions
            { FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 40, ToDecibel = false }), false, "Out"),
        ("mfcc", ml => ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { FftLength = 400, HopLength = 160, MelBinCount = 40, CoefficientCount = 20 }), false, "Out"),
        ("resample", ml => ml.Transforms.Audio.GpuResample("Out", "Audio", new GpuResampleOptions { SampleRate = 11025, Method = ResamplingMethod.SincInterpKaiser }), false, "Out"),
        ("speech-embedding", ml => ml.Transforms.Audio.SpeechEmbedding("Out", "Audio"), false, "Out"),
        ("classifier", ml => ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(AudioClassificationTrainerTests.Clip.Audio),
                new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 }))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions { Epochs = 2, BatchSize = 8 })), true, "Score"),
        ("classifier-frontend", ml => ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions
            {
                Epochs = 2, BatchSize = 8, FeatureColumnName = nameof(AudioClassificationTrainerTests.Clip.Audio), TrainFrontEnd = true,
                FrontEnd = new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 },
            })), true, "Score"),
        ("classifier-bcresnet", ml => ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", nameof(AudioClassificationTrainerTests.Clip.Audio),
                new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 40, MaxFrequency = 4000 }))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions
                { Epochs = 2, BatchSize = 8, Backbone = AudioBackbone.BcResNet, BcResNetSize = BcResNetSize.Tau1 })), true, "Score"),
    ];

    /// <summary>Noise rows at 16 kHz (the transforms' input).</summary>
    public static IDataView Noise(MLContext ml) => AudioData.Load(ml, AudioData.NoiseRows(4, 4000), [4000], 16000);

    /// <summary>Labelled clips at 8 kHz (the trainer's input).</summary>
    public static IDataView Clips(MLContext ml)
    {
        var definition = SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
        definition[nameof(AudioClassificationTrainerTests.Clip.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 8000, NumberDataViewType.Int32);
        return ml.Data.LoadFromEnumerable(AudioClassificationTrainerTests.Clips(4, 1), definition);
    }

    public static int Save(string dir)
    {
        Directory.CreateDirectory(dir);
        var ml = new MLContext(seed: 1);
        var noise = ml.Data.Cache(Noise(ml));
        var clips = ml.Data.Cache(Clips(ml));
        using (var f = File.Create(Path.Combine(dir, "input.idv"))) ml.Data.SaveAsBinary(noise, f);
        using (var f = File.Create(Path.Combine(dir, "clips.idv"))) ml.Data.SaveAsBinary(clips, f);
        foreach (var (name, pipeline, useClips, column) in Models)
        {
            var data = useClips ? clips : noise;
            var model = pipeline(ml).Fit(data);
            ml.Model.Save(model, data.Schema, Path.Combine(dir, name + ".zip"));
            using var f = File.Create(Path.Combine(dir, name + ".idv"));
            ml.Data.SaveAsBinary(ml.Transforms.SelectColumns(column).Fit(model.Transform(data)).Transform(model.Transform(data)), f);
            Console.WriteLine($"{name}: saved");
        }
        return 0;
    }
}
