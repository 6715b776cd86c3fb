using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Transforms;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>Every transformer saves into an ML.NET zip and loads in a new process, giving identical outputs.</summary>
[TestClass]
public sealed class ModelRoundTripTests
{
    public static IEnumerable<object[]> Pipelines => [["GpuStft"], ["GpuMel"], ["GpuDecibel"], ["MelSpectrogramGpu"], ["Chain"], ["GpuResample"], ["MfccGpu"], ["SpeechEmbedding"]];

    private static IEstimator<ITransformer> Pipeline(MLContext ml, string name)
    {
        var stft = ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = 256, WindowLength = 200, HopLength = 100, Power = 1 });
        return name switch
        {
            "GpuStft" => stft,
            "GpuMel" => stft.Append(ml.Transforms.Audio.GpuMel("Out", "Spec", new GpuMelOptions { MelBinCount = 24, MelScale = MelScale.Slaney, MelNorm = MelNorm.Slaney })),
            "GpuDecibel" => stft.Append(ml.Transforms.Audio.GpuDecibel("Out", "Spec", new GpuDecibelOptions { TopDb = 50, Reference = 2 })),
            "GpuResample" => ml.Transforms.Audio.GpuResample("Out", "Audio", new GpuResampleOptions { SampleRate = 11025, Method = ResamplingMethod.SincInterpKaiser, LowpassFilterWidth = 10 }),
            "MelSpectrogramGpu" => ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", new MelSpectrogramOptions
            {
                FftLength = 256, HopLength = 64, MelBinCount = 30, Framing = FramePadding.Same, Window = WindowType.Hamming,
                MaxFrequency = 6000, TopDb = null, BatchSize = 5,
            }),
            "MfccGpu" => ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { FftLength = 400, HopLength = 160, MelBinCount = 40, CoefficientCount = 20, DctNorm = DctNorm.None }),
            "SpeechEmbedding" => ml.Transforms.Audio.SpeechEmbedding("Out", "Audio", new SpeechEmbeddingOptions { Pooling = EmbeddingPooling.None, MinimumDurationSeconds = 0.8 }),
            _ => stft.Append(ml.Transforms.Audio.GpuMel("Mel", "Spec")).Append(ml.Transforms.Audio.GpuDecibel("Out", "Mel")),
        };
    }

    [TestMethod]
    [DynamicData(nameof(Pipelines))]
    public void SavedModel_LoadsInANewProcess_AndGivesIdenticalOutputs(string name)
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(6, 3000), [3000], 16000);
        var model = Pipeline(ml, name).Fit(data);
        string outputColumn = name == "GpuStft" ? "Spec" : "Out";
        var expected = AudioData.Column(model.Transform(data), outputColumn);

        var dir = Directory.CreateTempSubdirectory("kapre-roundtrip-");
        try
        {
            string zip = Path.Combine(dir.FullName, "model.zip"), input = Path.Combine(dir.FullName, "in.idv"), output = Path.Combine(dir.FullName, "out.idv");
            ml.Model.Save(model, data.Schema, zip);
            using (var f = File.Create(input)) ml.Data.SaveAsBinary(data, f);

            var (exit, log) = SecondProcess.Run("transform", zip, input, output);
            Assert.AreEqual(0, exit, log);

            var reloaded = ml.Data.LoadFromBinary(output);
            Assert.AreEqual(model.Transform(data).Schema[outputColumn].Type, reloaded.Schema[outputColumn].Type);
            var actual = AudioData.Column(reloaded, outputColumn);
            Assert.HasCount(expected.Length, actual);
            for (int i = 0; i < expected.Length; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"row {i}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void LoadedMelTransformer_KeepsItsFilterbankValues()
    {
        // The filterbank is saved as values, not re-derived from the settings: what a trained filterbank needs.
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(2, 2000), [2000], 16000);
        var model = ml.Transforms.Audio.GpuStft("Spec", "Audio").Append(ml.Transforms.Audio.GpuMel("Mel", "Spec", new GpuMelOptions { MelBinCount = 16 })).Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        using var zip = new System.IO.Compression.ZipArchive(stream);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith("Filterbank.bin"));
        using var reader = new BinaryReader(entry.Open());
        Assert.AreEqual(257, reader.ReadInt32());
        Assert.AreEqual(16, reader.ReadInt32());
        var first = Enumerable.Range(0, 257 * 16).Select(_ => reader.ReadSingle()).ToArray();
        var expected = Functional.melscale_fbanks_array(257, 0, null, 16, 16000);
        for (int i = 0; i < first.Length; i++) Assert.AreEqual((float)expected[i], first[i], $"filterbank value {i}");
    }
}
