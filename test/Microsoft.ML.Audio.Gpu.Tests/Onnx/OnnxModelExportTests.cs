using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Onnx;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Tests.Training;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.Audio.Gpu.Tests.Onnx;

/// <summary>A trained model chain, as the sample saves it (LoadAudio → [MelSpectrogramGpu] → AudioClassification →
/// MapKeyToValue), saved, reloaded, exported, and run by ONNX Runtime on the same decoded audio.</summary>
[TestClass]
public sealed class OnnxModelExportTests
{
    private const int Rate = 8000, Samples = 2000;
    private static readonly MelSpectrogramOptions FrontEnd = new()
    {
        FftLength = 256, WindowLength = 200, HopLength = 80, MelBinCount = 32, MaxFrequency = 4000,
        MelScale = MelScale.Slaney, MelNorm = MelNorm.Slaney, TopDb = 80,
    };
    private static readonly LoadAudioOptions Loading = new() { SampleRate = Rate, DurationSeconds = Samples / (double)Rate };

    private DirectoryInfo _dir = null!;

    [TestInitialize]
    public void Setup() => _dir = Directory.CreateTempSubdirectory("onnx-export-");

    [TestCleanup]
    public void Cleanup() => _dir.Delete(recursive: true);

    public sealed class FileRow
    {
        public string Path { get; set; } = "";
        public string Word { get; set; } = "";
    }

    public sealed class Scored
    {
        public string PredictedWord { get; set; } = "";
        public float[] Score { get; set; } = [];
        public float[] Audio { get; set; } = [];
    }

    /// <summary>The trainer tests' clips as WAV files; a second channel holds the clip a little later and quieter.</summary>
    private FileRow[] Files(int perClass, int seed, string prefix, int channels = 1)
        => [.. AudioClassificationTrainerTests.Clips(perClass, seed).Select((clip, i) =>
        {
            var signal = new double[Samples, channels];
            for (int t = 0; t < Samples; t++)
            {
                signal[t, 0] = clip.Audio[t];
                if (channels > 1) signal[t, 1] = t >= 40 ? 0.5 * clip.Audio[t - 40] : 0;
            }
            string path = Path.Combine(_dir.FullName, $"{prefix}{i}_{clip.Word}.wav");
            File.WriteAllBytes(path, WavBuilder.For(signal, Rate, SampleFormat.Float32).ToBytes());
            return new FileRow { Path = path, Word = clip.Word };
        })];

    /// <summary>Trains as the sample does (the label map apart from the saved chain) and saves and reloads the chain.</summary>
    /// <summary>How the chain decodes: <see cref="Loading"/>, at 16 kHz for the speech embedding, with every channel kept
    /// for <paramref name="channels"/> &gt; 1.</summary>
    private static LoadAudioOptions LoadingFor(AudioBackbone backbone, int channels) => new()
    {
        SampleRate = backbone == AudioBackbone.SpeechEmbedding ? 16000 : Rate, DurationSeconds = Loading.DurationSeconds,
        Mono = channels == 1, ChannelCount = channels == 1 ? null : channels,
    };

    private ITransformer TrainSaveAndLoad(MLContext ml, bool frontEndInNetwork, AudioBackbone backbone, int channels = 1)
    {
        var train = ml.Data.LoadFromEnumerable(Files(8, 1, "train", channels));
        var labelMap = ml.Transforms.Conversion.MapValueToKey("Label", nameof(FileRow.Word)).Fit(train);
        var loading = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), LoadingFor(backbone, channels));
        IEstimator<ITransformer> featurizer = frontEndInNetwork ? loading : loading.Append(ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", FrontEnd));
        var featurizerModel = featurizer.Fit(train);
        var prepared = featurizerModel.Transform(labelMap.Transform(train));
        var options = new AudioClassificationOptions
        {
            FeatureColumnName = frontEndInNetwork ? "Audio" : "Features",
            FrontEnd = frontEndInNetwork && backbone != AudioBackbone.SpeechEmbedding ? FrontEnd : null,
            Epochs = 3, BatchSize = 8, NetworkSize = AudioCnnSize.Small, Backbone = backbone, BcResNetSize = BcResNetSize.Tau1,
        };
        var classifier = ml.MulticlassClassification.Trainers.AudioClassification(options).Fit(prepared);
        var toWord = ml.Transforms.Conversion.MapKeyToValue("PredictedWord", "PredictedLabel").Fit(classifier.Transform(prepared));
        var model = new TransformerChain<ITransformer>(featurizerModel, classifier, toWord);
        string zip = Path.Combine(_dir.FullName, "model.zip");
        ml.Model.Save(model, train.Schema, zip);
        model.Dispose();
        return new MLContext(2).Model.Load(zip, out _);
    }

    [TestMethod]
    [DataRow(false, OnnxStftForm.Convolution, AudioBackbone.Cnn)]
    [DataRow(true, OnnxStftForm.Convolution, AudioBackbone.Cnn)]
    [DataRow(false, OnnxStftForm.StftOperator, AudioBackbone.Cnn)]
    [DataRow(false, OnnxStftForm.Convolution, AudioBackbone.BcResNet)]
    [DataRow(true, OnnxStftForm.StftOperator, AudioBackbone.BcResNet)]
    [DataRow(true, OnnxStftForm.Convolution, AudioBackbone.SpeechEmbedding)]
    [DataRow(true, OnnxStftForm.Convolution, AudioBackbone.Cnn, 2)]
    [DataRow(false, OnnxStftForm.StftOperator, AudioBackbone.Cnn, 2)]
    [DataRow(true, OnnxStftForm.Convolution, AudioBackbone.BcResNet, 2)]
    public void TrainedModel_RunsInOnnxRuntime_WithTheSameProbabilitiesAndLabels(bool frontEndInNetwork, OnnxStftForm form, AudioBackbone backbone, int channels = 1)
    {
        var ml = new MLContext(1);
        var model = TrainSaveAndLoad(ml, frontEndInNetwork, backbone, channels);
        using var stream = new MemoryStream();
        AudioOnnxExport.Export(model, stream, new AudioOnnxExportOptions { StftForm = form });

        var test = Files(6, 99, "test", channels);
        var expected = ml.Data.CreateEnumerable<Scored>(model.Transform(ml.Data.LoadFromEnumerable(test)), false).ToArray();
        var audio = expected.SelectMany(e => e.Audio).ToArray();
        int samples = expected[0].Audio.Length / channels;
        var outputs = OnnxRun.Run(stream.ToArray(), "Audio", audio, channels == 1 ? [test.Length, samples] : [test.Length, channels, samples]);
        var scores = (float[])outputs["Score"];
        var words = (string[])outputs["PredictedWord"];
        var keys = (uint[])outputs["PredictedLabel"];
        int classes = expected[0].Score.Length;
        Assert.HasCount(test.Length * classes, scores, "Score: float[N, classes]");

        double worstAbs = 0, worstRel = 0;
        int agree = 0;
        for (int i = 0; i < test.Length; i++)
        {
            for (int c = 0; c < classes; c++)
            {
                double diff = Math.Abs(scores[i * classes + c] - expected[i].Score[c]);
                worstAbs = Math.Max(worstAbs, diff);
                worstRel = Math.Max(worstRel, diff / Math.Max(expected[i].Score[c], 1e-30));
            }
            if (words[i] == expected[i].PredictedWord) agree++;
            Assert.AreEqual(Array.IndexOf(expected[i].Score, expected[i].Score.Max()) + 1, (int)keys[i], $"clip {i}: PredictedLabel is the 1-based key");
        }
        Console.WriteLine($"{backbone}, {channels} channel(s), front end {(frontEndInNetwork ? "in the network" : "MelSpectrogramGpu")}, {form}: {stream.Length / 1024.0:F0} KiB, " +
            $"probabilities max |diff| {worstAbs:G3} (max relative {worstRel:G3}), labels {agree}/{test.Length} identical");
        Assert.IsLessThanOrEqualTo(OnnxTolerances.Probability(backbone), worstAbs, "class probabilities");
        Assert.AreEqual(test.Length, agree, "predicted class names");

        // The sample's ONNX Runtime consumption code decodes each file with the settings the file records (mono or
        // multi-channel, 8 or 16 kHz) and predicts the same class.
        string onnxPath = Path.Combine(_dir.FullName, "model.onnx");
        File.WriteAllBytes(onnxPath, stream.ToArray());
        using var app = new global::AudioClassification.Consumption.AudioClassifierOnnxModel(onnxPath);
        for (int i = 0; i < test.Length; i++)
            Assert.AreEqual(expected[i].PredictedWord, app.Predict(test[i].Path).PredictedLabel, $"AudioClassifierOnnxModel, {test[i].Path}");
    }

    [TestMethod]
    public void UnsupportedStep_FailsTheExport_NamingIt()
    {
        var ml = new MLContext(1);
        var files = ml.Data.LoadFromEnumerable(Files(1, 3, "x"));
        var model = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), Loading)
            .Append(ml.Transforms.Conversion.MapValueToKey("Label", nameof(FileRow.Word))).Fit(files);
        var e = Assert.ThrowsExactly<NotSupportedException>(() => AudioOnnxExport.Export(model, new MemoryStream()));
        StringAssert.Contains(e.Message, nameof(ValueToKeyMappingTransformer));

        var noDuration = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), new LoadAudioOptions { SampleRate = Rate }).Fit(files);
        string path = Path.Combine(_dir.FullName, "none.onnx");
        e = Assert.ThrowsExactly<NotSupportedException>(() => AudioOnnxExport.Export(noDuration, path));
        Assert.IsFalse(File.Exists(path), "a failed export leaves no file");
    }
}
