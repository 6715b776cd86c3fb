using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

[TestClass]
public sealed class MfccGpuEstimatorTests
{
    /// <summary>Same as the layer's parity test: float32 pipeline against float64 torchaudio, relative to the largest
    /// coefficient (the dB step magnifies the error of the quietest kept bins). Measured: 2.3e-6.</summary>
    private const double MfccRel = 1e-4;

    /// <summary>The same layers on a batch of another size: only the summation order of the batched DCT matmul may
    /// differ (measured: 4e-7 of the largest coefficient, a few float32 ulps).</summary>
    private const double SameLayersRel = 1e-6;

    private sealed class TextRow
    {
        public string Audio { get; set; } = "";
    }

    public static IEnumerable<object[]> MfccCases => CepstraFilterbanksNormsFixtures.CaseNames("mfcc");

    private static MfccOptions OptionsOf(System.Text.Json.JsonElement c) => new()
    {
        FftLength = (int)c.Long("n_fft"), WindowLength = (int)c.Long("win_length"), HopLength = (int)c.Long("hop_length"),
        PadMode = ReferenceFixtures.PadMode(c.String("pad_mode")), MelBinCount = (int)c.Long("n_mels"), MinFrequency = c.Double("f_min"),
        MaxFrequency = c.Double("f_max"), TopDb = c.Double("top_db"), MinAmplitude = c.Double("amin"), CoefficientCount = (int)c.Long("n_mfcc"),
    };

    [TestMethod]
    [DynamicData(nameof(MfccCases))]
    public void Transform_MatchesTorchaudioMfcc(string name)
    {
        var c = CepstraFilterbanksNormsFixtures.Case(name);
        var (signal, rate) = ReferenceFixtures.Signal(c.String("signal")!);
        var expected = CepstraFilterbanksNormsFixtures.Data(c, "expected");
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, [new AudioRow { Audio = signal.Data }], [(int)signal.Length], rate);
        var output = ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", OptionsOf(c)).Fit(data).Transform(data);

        var type = (VectorDataViewType)output.Schema["Mfcc"].Type;
        CollectionAssert.AreEqual(expected.Shape.Select(d => (int)d).ToArray(), type.Dimensions.ToArray(), "output dimensions");
        Compare.RelativeToMax(AudioData.Column(output, "Mfcc")[0], expected.Data, MfccRel, name);
    }

    [TestMethod]
    public void Transform_EqualsTheLayers_ForABatchOfMonoRows()
    {
        var ml = new MLContext(1);
        var rows = AudioData.NoiseRows(5, 8000);
        var data = AudioData.Load(ml, rows, [8000], 16000);
        var options = new MfccOptions { FftLength = 512, WindowLength = 400, HopLength = 160, MelBinCount = 64, CoefficientCount = 20, BatchSize = 3 };
        var output = ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", options).Fit(data).Transform(data);

        var type = (VectorDataViewType)output.Schema["Mfcc"].Type;
        CollectionAssert.AreEqual(new[] { 20, 51 }, type.Dimensions.ToArray());
        int bins = 0;
        output.Schema["Mfcc"].Annotations.GetValue(AudioAnnotationKinds.BinCount, ref bins);
        Assert.AreEqual(20, bins, "BinCount is the coefficient count");

        using var logmel = AudioLayers.MelSpectrogram(16000, n_fft: 512, win_length: 400, hop_length: 160, n_mels: 64, to_db: true, top_db: 80);
        using var mfcc = AudioLayers.Mfcc(20, 64);
        var values = AudioData.Column(output, "Mfcc");
        Assert.HasCount(5, values);
        for (int i = 0; i < rows.Length; i++)
            Compare.RelativeToMax(values[i], Compare.ToArray(mfcc.call(logmel.call(tensor(rows[i].Audio)))), SameLayersRel, $"row {i}");
    }

    [TestMethod]
    public void Transform_EqualsTheLayers_ForMultiChannelAudio()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 3).Select(i => new AudioRow { Id = i, Audio = AudioData.Noise(2 * 3000, i) }).ToArray();
        var data = AudioData.Load(ml, rows, [2, 3000], 16000, channels: 2);
        var options = new MfccOptions { FftLength = 256, HopLength = 100, MelBinCount = 32, CoefficientCount = 13 };
        var output = ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", options).Fit(data).Transform(data);

        var type = (VectorDataViewType)output.Schema["Mfcc"].Type;
        CollectionAssert.AreEqual(new[] { 2, 13, 31 }, type.Dimensions.ToArray());
        using var logmel = AudioLayers.MelSpectrogram(16000, n_fft: 256, hop_length: 100, n_mels: 32, to_db: true, top_db: 80);
        using var mfcc = AudioLayers.Mfcc(13, 32);
        var values = AudioData.Column(output, "Mfcc");
        for (int i = 0; i < rows.Length; i++)
        {
            // One example of two channels: the 80 dB range is measured over both channels together.
            var expected = Compare.ToArray(mfcc.call(logmel.call(tensor(rows[i].Audio).reshape(1, 2, 3000))));
            Compare.RelativeToMax(values[i], expected, SameLayersRel, $"row {i}");
        }
    }

    private sealed class MfccRow
    {
        public float[] Out { get; set; } = [];
    }

    [TestMethod]
    public void PredictionEngine_GivesTheBatchedValues()
    {
        var ml = new MLContext(1);
        var rows = AudioData.NoiseRows(4, 1000);
        var data = AudioData.Load(ml, rows, [1000], 16000);
        var model = ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 20, CoefficientCount = 10, BatchSize = 3 }).Fit(data);
        var batched = AudioData.Column(model.Transform(data), "Out");
        var definition = SchemaDefinition.Create(typeof(AudioRow));
        definition[nameof(AudioRow.Audio)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1000);
        definition[nameof(AudioRow.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 16000, NumberDataViewType.Int32);
        var engine = ml.Model.CreatePredictionEngine<AudioRow, MfccRow>(model, inputSchemaDefinition: definition);
        for (int i = 0; i < rows.Length; i++)
            Compare.RelativeToMax(engine.Predict(rows[i]).Out, batched[i], SameLayersRel, $"row {i}: single row vs batch");
    }

    [TestMethod]
    public void SavedModel_LoadsInANewProcess_AndGivesIdenticalOutputs()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(6, 3000), [3000], 16000);
        var model = ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions
        {
            FftLength = 256, HopLength = 64, MelBinCount = 30, CoefficientCount = 12, Framing = FramePadding.Same, Window = WindowType.Hamming,
            MaxFrequency = 6000, TopDb = 60, DctNorm = DctNorm.None, BatchSize = 5,
        }).Fit(data);
        var expected = AudioData.Column(model.Transform(data), "Out");

        var dir = Directory.CreateTempSubdirectory("kapre-mfcc-roundtrip-");
        try
        {
            string zip = Path.Combine(dir.FullName, "model.zip"), input = Path.Combine(dir.FullName, "in.idv"), output = Path.Combine(dir.FullName, "out.idv");
            ml.Model.Save(model, data.Schema, zip);
            using (var f = File.Create(input)) ml.Data.SaveAsBinary(data, f);

            var (exit, log) = SecondProcess.Run("transform", zip, input, output);
            Assert.AreEqual(0, exit, log);

            var reloaded = ml.Data.LoadFromBinary(output);
            Assert.AreEqual(model.Transform(data).Schema["Out"].Type, reloaded.Schema["Out"].Type);
            var actual = AudioData.Column(reloaded, "Out");
            Assert.HasCount(expected.Length, actual);
            for (int i = 0; i < expected.Length; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"row {i}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [TestMethod]
    public void LoadedTransformer_KeepsItsSettings()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(2, 2000), [2000], 16000);
        var model = ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 24, CoefficientCount = 10, TopDb = null })
            .Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        var loaded = (MfccGpuTransformer)ml.Model.Load(stream, out _);
        var options = loaded.Options;
        Assert.AreEqual(10, options.CoefficientCount);
        Assert.AreEqual(24, options.MelBinCount);
        Assert.AreEqual(16000, options.SampleRate);
        Assert.IsNull(options.TopDb);
        Assert.AreEqual(DctNorm.Ortho, options.DctNorm);
    }

    [TestMethod]
    public void GetOutputSchemaAndFit_Throw_NamingColumn_WhenColumnIsMissing()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(AudioData.NoiseRows(2, 1000).Select(r => new { Sound = r.Audio }));
        var estimator = ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { SampleRate = 16000 });
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Shapes.From(data.Schema)));
        StringAssert.Contains(e1.Message, "'Audio'");
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        StringAssert.Contains(e2.Message, "'Audio'");
    }

    [TestMethod]
    public void GetOutputSchemaAndFit_Throw_NamingColumnAndTypes_WhenColumnIsNotAFloatVector()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new TextRow { Audio = "a.wav" } });
        var estimator = ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { SampleRate = 16000 });
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Shapes.From(data.Schema)));
        StringAssert.Contains(e1.Message, "'Audio'");
        StringAssert.Contains(e1.Message, "vector of Single");
        StringAssert.Contains(e1.Message, "String");
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        StringAssert.Contains(e2.Message, "'Audio'");
        StringAssert.Contains(e2.Message, "String");
    }

    [TestMethod]
    public void Fit_Throws_NamingColumnAndBothRates_WhenSampleRateDiffers()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(2, 1000), [1000], 16000);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { SampleRate = 22050 }).Fit(data));
        StringAssert.Contains(e.Message, "'Audio'");
        StringAssert.Contains(e.Message, "22050");
        StringAssert.Contains(e.Message, "16000");
    }

    [TestMethod]
    public void Fit_Throws_NamingTheOption_WhenSampleRateIsUnknown()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(2, 1000), [1000], sampleRate: null);
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.Audio.MfccGpu("Out", "Audio").Fit(data));
        StringAssert.Contains(e.Message, "'Audio'");
        Assert.AreEqual(nameof(MfccOptions.SampleRate), e.ParamName);
    }

    [TestMethod]
    public void GetOutputSchema_MatchesTheRealOutput()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(3, 1000), [1000], 16000);
        var estimator = ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 20, CoefficientCount = 8 });
        var shape = estimator.GetOutputSchema(Shapes.From(data.Schema)).Single(c => c.Name == "Out");
        var model = estimator.Fit(data);
        var real = model.Transform(data).Schema["Out"];
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, shape.Kind);
        Assert.AreEqual(shape.ItemType, ((VectorDataViewType)real.Type).ItemType);
        CollectionAssert.AreEqual(shape.Annotations.Select(c => c.Name).OrderBy(n => n).ToArray(),
            real.Annotations.Schema.Select(c => c.Name).OrderBy(n => n).ToArray(), "annotations promised = annotations given");
        Assert.AreEqual(model.GetOutputSchema(data.Schema)["Out"].Type, real.Type);
    }

    [TestMethod]
    public void Estimator_RejectsMoreCoefficientsThanMelBands_NamingTheOption()
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { MelBinCount = 20, CoefficientCount = 21 }));
        Assert.AreEqual(nameof(MfccOptions.CoefficientCount), e.ParamName);
    }

    [TestMethod]
    public void Estimator_RejectsZeroCoefficients_NamingTheOption()
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { CoefficientCount = 0 }));
        Assert.AreEqual(nameof(MfccOptions.CoefficientCount), e.ParamName);
    }
}
