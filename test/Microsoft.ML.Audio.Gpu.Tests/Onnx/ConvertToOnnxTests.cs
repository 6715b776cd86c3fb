using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Audio.Gpu.Tests.Onnx;

/// <summary>
/// ML.NET's own ONNX route, mlContext.Model.ConvertToOnnx (package Microsoft.ML.OnnxConverter), on pipelines of the audio
/// stages and fused front ends with ML.NET's normalisers and Concatenate after them: the file runs in ONNX Runtime and
/// gives the pipeline's values. Before, the converter wrote a graph that did not compute the audio columns at all.
/// </summary>
[TestClass]
public sealed class ConvertToOnnxTests
{
    private const int Rate = 16000, Samples = 4000;

    public sealed class Row
    {
        public float[] Audio { get; set; } = [];
    }

    private static (MLContext ml, IDataView data, Row[] rows) Data()
    {
        var ml = new MLContext(1);
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Audio)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Samples);
        definition[nameof(Row.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, Rate, NumberDataViewType.Int32);
        var rows = AudioData.NoiseRows(3, Samples).Select(r => new Row { Audio = r.Audio }).ToArray();
        return (ml, ml.Data.LoadFromEnumerable(rows, definition), rows);
    }

    [TestMethod]
    public void AudioStagesAndMlNetSteps_ConvertToOnnx_AndGiveThePipelinesValues()
    {
        var (ml, data, rows) = Data();
        var model = ml.Transforms.Audio.GpuStft("Spectrum", "Audio", new GpuStftOptions { FftLength = 256 })
            .Append(ml.Transforms.Audio.GpuMel("Mel", "Spectrum", new GpuMelOptions { MelBinCount = 20 }))
            .Append(ml.Transforms.Audio.GpuDecibel("Db", "Mel"))
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20, MelScale = Microsoft.ML.Audio.Gpu.Layers.MelScale.Slaney }))
            .Append(ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 20, CoefficientCount = 8 }))
            .Append(ml.Transforms.Audio.GpuResample("Audio8k", "Audio", new GpuResampleOptions { SampleRate = 8000 }))
            .Append(ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio"))
            .Append(ml.Transforms.NormalizeMinMax("MfccScaled", "Mfcc"))
            .Append(ml.Transforms.Concatenate("Features", "Mfcc", "LogMel"))
            .Append(ml.Transforms.NormalizeMeanVariance("FeaturesScaled", "Features"))
            .Fit(data);
        using var stream = new MemoryStream();
        ml.Model.ConvertToOnnx(model, data, stream);

        var output = model.Transform(data);
        using var session = new InferenceSession(stream.ToArray());
        Assert.AreEqual("Audio", session.InputMetadata.Keys.Single(), "the graph starts from the audio column");
        var columns = new[] { "Spectrum", "Mel", "Db", "LogMel", "Mfcc", "Audio8k", "Embedding", "MfccScaled", "Features", "FeaturesScaled" };
        var got = columns.ToDictionary(c => c, _ => new List<float[]>());
        foreach (var row in rows)
        {
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("Audio", new DenseTensor<float>(row.Audio, [1, Samples]))]);
            foreach (var c in columns) got[c].Add(results.Single(r => r.Name == c + ".output").AsTensor<float>().ToArray());
        }
        foreach (var c in columns)
        {
            var expected = AudioData.Column(output, c);
            for (int i = 0; i < rows.Length; i++)
            {
                Assert.HasCount(expected[i].Length, got[c][i], $"{c}, row {i}");
                // Spectra, decibels and cepstra, and the normalised columns made from them: the same values through libtorch
                // and ONNX Runtime's kernels (the decibel outputs are compared relative to their peak too; measured in
                // docs/onnx.md).
                Compare.RelativeToMax(got[c][i], expected[i], OnnxTolerances.SpectrumRel, $"{c}, row {i}");
            }
        }
    }

    [TestMethod]
    [DataRow(false, AudioBackbone.Cnn)]
    [DataRow(true, AudioBackbone.Cnn)]
    [DataRow(false, AudioBackbone.BcResNet)]
    [DataRow(true, AudioBackbone.SpeechEmbedding)]
    public void TrainedClassifier_ConvertsToOnnx_WithItsProbabilitiesAndClassNames(bool frontEndInNetwork, AudioBackbone backbone)
    {
        // The clips, 2,000 samples, taken as 16 kHz audio for the speech embedding (which takes nothing else).
        int rate = backbone == AudioBackbone.SpeechEmbedding ? 16000 : 8000;
        var ml = new MLContext(1);
        var clips = Training.AudioClassificationTrainerTests.Clips(6, 1);
        var definition = SchemaDefinition.Create(typeof(Training.AudioClassificationTrainerTests.Clip));
        definition["Audio"].AddAnnotation(AudioAnnotationKinds.SampleRate, rate, NumberDataViewType.Int32);
        var train = ml.Data.LoadFromEnumerable(clips, definition);
        var labelMap = ml.Transforms.Conversion.MapValueToKey("Label", "Word").Fit(train);
        var frontEnd = new MelSpectrogramOptions { FftLength = 256, HopLength = 80, MelBinCount = 32, MaxFrequency = 4000 };
        var featurizer = frontEndInNetwork ? null : ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio", frontEnd).Fit(train);
        var prepared = labelMap.Transform(featurizer?.Transform(train) ?? train);
        var classifier = ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions
        {
            FeatureColumnName = frontEndInNetwork ? "Audio" : "Features", FrontEnd = frontEndInNetwork && backbone != AudioBackbone.SpeechEmbedding ? frontEnd : null,
            Epochs = 2, BatchSize = 6, NetworkSize = AudioCnnSize.Small, Backbone = backbone, BcResNetSize = BcResNetSize.Tau1,
        }).Fit(prepared);
        var toWord = ml.Transforms.Conversion.MapKeyToValue("PredictedWord", "PredictedLabel").Fit(classifier.Transform(prepared));
        var model = featurizer is null
            ? new TransformerChain<ITransformer>(classifier, toWord)
            : new TransformerChain<ITransformer>(featurizer, classifier, toWord);

        // Scoring data: the decoded audio alone, as an app would feed the graph.
        double worst = ConvertAndCompareScores(ml, model, [.. clips.Select(c => c.Audio)], rate);
        Console.WriteLine($"{backbone}, front end in the network {frontEndInNetwork}: max |probability difference| {worst:G3}");
        Assert.IsLessThanOrEqualTo(OnnxTolerances.Probability(backbone), worst, "class probabilities");
    }

    /// <summary>Converts <paramref name="model"/> (scoring <c>Audio</c>, writing <c>Score</c> and <c>PredictedWord</c>) from data
    /// holding the clips' audio alone, as an app would feed the graph, and runs each clip through ONNX Runtime: the class
    /// names must be the model's; returns the largest probability difference.</summary>
    private static double ConvertAndCompareScores(MLContext ml, ITransformer model, float[][] clips, int rate)
    {
        int samples = clips[0].Length;
        var audioOnly = SchemaDefinition.Create(typeof(Row));
        audioOnly["Audio"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, samples);
        audioOnly["Audio"].AddAnnotation(AudioAnnotationKinds.SampleRate, rate, NumberDataViewType.Int32);
        var data = ml.Data.LoadFromEnumerable(clips.Select(c => new Row { Audio = c }), audioOnly);
        using var stream = new MemoryStream();
        ml.Model.ConvertToOnnx(model, data, stream);

        var output = model.Transform(data);
        var scores = output.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        var words = output.GetColumn<ReadOnlyMemory<char>>("PredictedWord").Select(w => w.ToString()).ToArray();
        using var session = new InferenceSession(stream.ToArray());
        double worst = 0;
        for (int i = 0; i < clips.Length; i++)
        {
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("Audio", new DenseTensor<float>(clips[i], [1, samples]))]);
            var p = results.Single(r => r.Name == "Score.output").AsTensor<float>().ToArray();
            for (int k = 0; k < p.Length; k++) worst = Math.Max(worst, Math.Abs(p[k] - scores[i][k]));
            Assert.AreEqual(words[i], results.Single(r => r.Name == "PredictedWord.output").AsTensor<string>().ToArray().Single(), $"row {i}");
        }
        return worst;
    }

    [TestMethod]
    public void MlNetsOwnTrainer_OnMfccAndEmbeddingFeatures_ConvertsWithThem()
    {
        // The issue's "SDCA head on MFCC or embedding features": the audio columns feed ML.NET's Concatenate, normaliser
        // and multiclass SDCA, and the whole chain converts; the clips (2,000 samples) are taken as 16 kHz audio.
        var ml = new MLContext(1);
        var clips = Training.AudioClassificationTrainerTests.Clips(12, 1);
        var definition = SchemaDefinition.Create(typeof(Training.AudioClassificationTrainerTests.Clip));
        definition["Audio"].AddAnnotation(AudioAnnotationKinds.SampleRate, Rate, NumberDataViewType.Int32);
        var train = ml.Data.LoadFromEnumerable(clips, definition);
        var features = ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 512, HopLength = 160, MelBinCount = 40, CoefficientCount = 13 })
            .Append(ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio"))
            .Append(ml.Transforms.Concatenate("Features", "Mfcc", "Embedding"))
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Fit(train);
        var labelMap = ml.Transforms.Conversion.MapValueToKey("Label", "Word").Fit(train);
        // Cached: SDCA passes over the data many times, and would compute the features again on each pass.
        var prepared = ml.Data.Cache(labelMap.Transform(features.Transform(train)));
        var sdca = ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", "Features", maximumNumberOfIterations: 20).Fit(prepared);
        var toWord = ml.Transforms.Conversion.MapKeyToValue("PredictedWord", "PredictedLabel").Fit(sdca.Transform(prepared));
        var model = new TransformerChain<ITransformer>(features, sdca, toWord);

        var test = Training.AudioClassificationTrainerTests.Clips(4, 99);
        double worst = ConvertAndCompareScores(ml, model, [.. test.Select(c => c.Audio)], Rate);
        Console.WriteLine($"SDCA on MFCC + embedding: max |probability difference| {worst:G3} over {test.Length} clips");
        Assert.IsLessThanOrEqualTo(OnnxTolerances.EmbeddingProbabilityAbs, worst, "class probabilities (embedding features: its tolerance)");
    }

    [TestMethod]
    [DataRow(2, true)]
    [DataRow(1, false)]
    [DataRow(2, false)]
    public void AudioStages_OnMultiChannelOrVariableLengthColumns_ConvertToOnnx(int channels, bool fixedLength)
    {
        var ml = new MLContext(1);
        int[] lengths = fixedLength ? [3000, 3000, 3000] : [2500, 3000, 4321];
        var rows = lengths.Select((n, i) => new Row { Audio = AudioData.Noise(channels * n, i + 1) }).ToArray();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Audio)].ColumnType = fixedLength
            ? new VectorDataViewType(NumberDataViewType.Single, channels == 1 ? new[] { 3000 } : new[] { channels, 3000 })
            : new VectorDataViewType(NumberDataViewType.Single);
        definition[nameof(Row.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, Rate, NumberDataViewType.Int32);
        definition[nameof(Row.Audio)].AddAnnotation(AudioAnnotationKinds.ChannelCount, channels, NumberDataViewType.Int32);
        var data = ml.Data.LoadFromEnumerable(rows, definition);
        var model = ml.Transforms.Audio.GpuStft("Spectrum", "Audio", new GpuStftOptions { FftLength = 256, HopLength = 100 })
            .Append(ml.Transforms.Audio.GpuMel("Mel", "Spectrum", new GpuMelOptions { MelBinCount = 20 }))
            .Append(ml.Transforms.Audio.GpuDecibel("Db", "Mel", new GpuDecibelOptions { TopDb = 80 }))
            .Append(ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 20, CoefficientCount = 8 }))
            .Append(ml.Transforms.Audio.GpuResample("Audio8k", "Audio", new GpuResampleOptions { SampleRate = 8000 }))
            .Fit(data);
        using var stream = new MemoryStream();
        ml.Model.ConvertToOnnx(model, data, stream);

        var output = model.Transform(data);
        using var session = new InferenceSession(stream.ToArray());
        var columns = new[] { "Spectrum", "Mel", "Db", "Mfcc", "Audio8k" };
        double worst = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            // ML.NET declares a fixed-size column with its dimensions, (N, channels, samples), and a variable-size one
            // flattened, (N, size); one row at its own length.
            int[] shape = fixedLength && channels > 1 ? [1, channels, lengths[i]] : [1, rows[i].Audio.Length];
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("Audio", new DenseTensor<float>(rows[i].Audio, shape))]);
            foreach (var c in columns)
            {
                var expected = AudioData.Column(output, c)[i];
                var got = results.Single(r => r.Name == c + ".output").AsTensor<float>().ToArray();
                Assert.HasCount(expected.Length, got, $"{c}, row {i}");
                worst = Math.Max(worst, Compare.RelativeToMax(got, expected, OnnxTolerances.SpectrumRel, $"{c}, row {i}, {channels} channel(s), {(fixedLength ? "fixed" : "variable")} length"));
            }
        }
        Console.WriteLine($"{channels} channel(s), {(fixedLength ? "fixed" : "variable")} length: max |diff| {worst:G3} of each row's largest value");
    }

    [TestMethod]
    public void LoadAudioInTheConvertedPipeline_FailsNamingTheColumn()
    {
        var dir = Directory.CreateTempSubdirectory("convert-onnx-");
        try
        {
            var ml = new MLContext(1);
            string path = Path.Combine(dir.FullName, "clip.wav");
            var signal = new double[Samples, 1];
            var noise = AudioData.Noise(Samples, 1);
            for (int t = 0; t < Samples; t++) signal[t, 0] = 0.3 * noise[t];
            File.WriteAllBytes(path, Microsoft.ML.Audio.Gpu.Tests.IO.WavBuilder.For(signal, Rate, Microsoft.ML.Audio.Gpu.Tests.IO.SampleFormat.Pcm16).ToBytes());
            var files = ml.Data.LoadFromEnumerable(new[] { new { Path = path } }.Select(f => new PathRow { Path = f.Path }));
            var model = ml.Transforms.Audio.LoadAudio("Audio", nameof(PathRow.Path), new LoadAudioOptions { SampleRate = Rate, DurationSeconds = 0.25 })
                .Append(ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio")).Fit(files);
            var e = Assert.Throws<NotSupportedException>(() => ml.Model.ConvertToOnnx(model, files, new MemoryStream()));
            StringAssert.Contains(e.Message, "MelSpectrogramGpu reads 'Audio', which is not in the ONNX graph");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    public sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
