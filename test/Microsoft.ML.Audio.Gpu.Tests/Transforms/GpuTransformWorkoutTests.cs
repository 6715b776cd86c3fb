using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// ML.NET's estimator workout, for every GPU transform: bad schemas fail in both GetOutputSchema and Fit naming the
/// column; the estimator's schema shape matches the real output; batched cursors, parallel cursors, single rows and
/// PredictionEngine give the same values in the same order.
/// </summary>
[TestClass]
public sealed class GpuTransformWorkoutTests
{
    private sealed class TextRow
    {
        public string Audio { get; set; } = "";
    }

    public static IEnumerable<object[]> Estimators =>
    [
        ["GpuStft"], ["GpuMel"], ["GpuDecibel"], ["MelSpectrogramGpu"], ["MfccGpu"], ["GpuResample"], ["SpeechEmbedding"],
    ];

    /// <summary>The estimator under test, reading a column named "Audio" (audio, or a spectrum for GpuMel/GpuDecibel).</summary>
    private static IEstimator<ITransformer> Estimator(MLContext ml, string name, int? sampleRate = null) => name switch
    {
        "GpuStft" => ml.Transforms.Audio.GpuStft("Out", "Audio", new GpuStftOptions { FftLength = 256, SampleRate = sampleRate, BatchSize = 3 }),
        "GpuMel" => ml.Transforms.Audio.GpuMel("Out", "Audio", new GpuMelOptions { MelBinCount = 20, SampleRate = sampleRate, BatchSize = 3 }),
        "GpuDecibel" => ml.Transforms.Audio.GpuDecibel("Out", "Audio", new GpuDecibelOptions { BatchSize = 3 }),
        "MfccGpu" => ml.Transforms.Audio.MfccGpu("Out", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 20, CoefficientCount = 13, SampleRate = sampleRate, BatchSize = 3 }),
        "GpuResample" => ml.Transforms.Audio.GpuResample("Out", "Audio", new GpuResampleOptions { SampleRate = 8000, InputSampleRate = sampleRate, BatchSize = 3 }),
        "SpeechEmbedding" => ml.Transforms.Audio.SpeechEmbedding("Out", "Audio", new SpeechEmbeddingOptions { BatchSize = 3 }),
        _ => ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20, SampleRate = sampleRate, BatchSize = 3 }),
    };

    private static bool TakesSpectrum(string name) => name is "GpuMel" or "GpuDecibel";

    /// <summary>Rows computed in batches of different sizes agree: to the bit, or for layers made of convolutions to
    /// <see cref="Tolerances.BatchSizeRel"/>.</summary>
    private static void AssertSameRow(string name, float[] expected, float[] actual, string what)
    {
        if (name is "GpuResample" or "SpeechEmbedding") Compare.RelativeToMax(actual, expected, Tolerances.BatchSizeRel, what);
        else CollectionAssert.AreEqual(expected, actual, what);
    }

    /// <summary>Valid input for the estimator: audio [1000] at 16 kHz ([20000] for the speech embedding, whose windows
    /// are 760 ms: shorter clips would all be mostly padding), or a power spectrum [129, 8] from GpuStft.</summary>
    private static IDataView Input(MLContext ml, string name, int rows = 11)
    {
        int samples = name == "SpeechEmbedding" ? 20000 : 1000;
        var audio = AudioData.Load(ml, AudioData.NoiseRows(rows, samples), [samples], 16000);
        if (!TakesSpectrum(name)) return audio;
        return ml.Transforms.Audio.GpuStft("Audio", "Audio", new GpuStftOptions { FftLength = 256 }).Fit(audio).Transform(audio);
    }

    [TestMethod]
    [DynamicData(nameof(Estimators))]
    public void GetOutputSchemaAndFit_Throw_NamingColumn_WhenColumnIsMissing(string name)
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(AudioData.NoiseRows(2, 1000).Select(r => new { Sound = r.Audio }));
        var estimator = Estimator(ml, name);
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Shapes.From(data.Schema)));
        StringAssert.Contains(e1.Message, "'Audio'");
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        StringAssert.Contains(e2.Message, "'Audio'");
    }

    [TestMethod]
    [DynamicData(nameof(Estimators))]
    public void GetOutputSchemaAndFit_Throw_NamingColumnAndTypes_WhenColumnIsNotAFloatVector(string name)
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new TextRow { Audio = "a.wav" } });
        var estimator = Estimator(ml, name);
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Shapes.From(data.Schema)));
        StringAssert.Contains(e1.Message, "'Audio'");
        StringAssert.Contains(e1.Message, "vector of Single");
        StringAssert.Contains(e1.Message, "String");
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        StringAssert.Contains(e2.Message, "'Audio'");
        StringAssert.Contains(e2.Message, "String");
    }

    [TestMethod]
    [DataRow("GpuStft")]
    [DataRow("GpuMel")]
    [DataRow("MelSpectrogramGpu")]
    [DataRow("MfccGpu")]
    [DataRow("GpuResample")]
    public void Fit_Throws_NamingColumnAndBothRates_WhenSampleRateDiffers(string name)
    {
        var ml = new MLContext(1);
        var data = Input(ml, name);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Estimator(ml, name, sampleRate: 22050).Fit(data));
        StringAssert.Contains(e.Message, "'Audio'");
        StringAssert.Contains(e.Message, "22050");
        StringAssert.Contains(e.Message, "16000");
    }

    [TestMethod]
    public void Fit_Throws_WhenSampleRateIsUnknown()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(2, 1000), [1000], sampleRate: null);
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio").Fit(data));
        StringAssert.Contains(e.Message, "'Audio'");
        StringAssert.Contains(e.Message, "SampleRate");
    }

    [TestMethod]
    [DynamicData(nameof(Estimators))]
    public void OutputSchema_MatchesEstimatorShape_AndRealRows(string name)
    {
        var ml = new MLContext(1);
        var data = Input(ml, name);
        var estimator = Estimator(ml, name);
        var shape = estimator.GetOutputSchema(Shapes.From(data.Schema));
        var model = estimator.Fit(data);
        var output = model.Transform(data);

        var expected = shape.Single(c => c.Name == "Out");
        var actual = output.Schema["Out"];
        Assert.AreEqual(expected.ItemType, ((VectorDataViewType)actual.Type).ItemType);
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, expected.Kind);
        var annotationNames = actual.Annotations.Schema.Select(c => c.Name).OrderBy(n => n).ToArray();
        CollectionAssert.AreEqual(expected.Annotations.Select(c => c.Name).OrderBy(n => n).ToArray(), annotationNames, "annotations promised = annotations given");
        Assert.AreEqual(model.GetOutputSchema(data.Schema)["Out"].Type, actual.Type);
        int size = ((VectorDataViewType)actual.Type).Size;
        foreach (var row in AudioData.Column(output, "Out")) Assert.HasCount(size, row);
    }

    [TestMethod]
    [DynamicData(nameof(Estimators))]
    public void BatchedCursor_ParallelCursors_SingleRowsAndPredictionEngine_Agree(string name)
    {
        var ml = new MLContext(1);
        var data = ml.Data.Cache(Input(ml, name, rows: 11));
        var model = Estimator(ml, name).Fit(data);
        var output = model.Transform(data);

        var batched = AudioData.Column(output, "Out"); // batches of 3: 3 + 3 + 3 + 2 rows
        Assert.HasCount(11, batched);

        // Row by row through the transformer's row mapper (what PredictionEngine uses).
        var mapper = model.GetRowToRowMapper(data.Schema);
        var outCol = mapper.OutputSchema["Out"];
        var single = new List<float[]>();
        using (var cursor = data.GetRowCursor(mapper.GetDependencies([outCol])))
        using (var row = mapper.GetRow(cursor, [outCol]))
        {
            var getter = row.GetGetter<VBuffer<float>>(outCol);
            var v = default(VBuffer<float>);
            while (cursor.MoveNext()) { getter(ref v); single.Add(v.DenseValues().ToArray()); }
        }
        Assert.HasCount(11, single);
        for (int i = 0; i < 11; i++) AssertSameRow(name, single[i], batched[i], $"row {i}: batched vs single-row");

        // Parallel cursors: every row exactly once, each with its own value.
        var ids = output.Schema["Id"];
        var cursors = output.GetRowCursorSet([output.Schema["Out"], ids], 3);
        var seen = new Dictionary<int, float[]>();
        foreach (var c in cursors)
            using (c)
            {
                var g = c.GetGetter<VBuffer<float>>(output.Schema["Out"]);
                var gi = c.GetGetter<int>(ids);
                var v = default(VBuffer<float>);
                int id = 0;
                while (c.MoveNext()) { g(ref v); gi(ref id); seen.Add(id, v.DenseValues().ToArray()); }
            }
        Assert.HasCount(11, seen);
        for (int i = 0; i < 11; i++) AssertSameRow(name, batched[i], seen[i], $"row {i}: parallel cursor");
    }

    [TestMethod]
    public void PredictionEngine_GivesTheBatchedValues()
    {
        var ml = new MLContext(1);
        var rows = AudioData.NoiseRows(4, 1000);
        var data = AudioData.Load(ml, rows, [1000], 16000);
        var model = ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20 }).Fit(data);
        var batched = AudioData.Column(model.Transform(data), "Out");
        var engine = ml.Model.CreatePredictionEngine<AudioRow, MelRow>(model, inputSchemaDefinition: SchemaFor(1000));
        for (int i = 0; i < rows.Length; i++)
            CollectionAssert.AreEqual(batched[i], engine.Predict(rows[i]).Out, $"row {i}");
    }

    private sealed class MelRow
    {
        public float[] Out { get; set; } = [];
    }

    private static SchemaDefinition SchemaFor(int samples)
    {
        var definition = SchemaDefinition.Create(typeof(AudioRow));
        definition[nameof(AudioRow.Audio)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, samples);
        definition[nameof(AudioRow.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 16000, NumberDataViewType.Int32);
        return definition;
    }

    [TestMethod]
    public void BadRow_Throws_WhenRead_NamingColumnAndRow_AndOtherRowsAreUnaffected()
    {
        var ml = new MLContext(1);
        int[] lengths = [2000, 2000, 50, 2000]; // row 2 is shorter than the reflect padding needs
        var rows = lengths.Select((n, i) => new AudioRow { Id = i, Audio = AudioData.Noise(n, i) }).ToArray();
        var data = AudioData.Load(ml, rows, null, 16000);
        var output = ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20 })
            .Fit(data).Transform(data);

        var col = output.Schema["Out"];
        using var cursor = output.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        var v = default(VBuffer<float>);
        for (int i = 0; i < 4; i++)
        {
            Assert.IsTrue(cursor.MoveNext());
            if (i == 2)
            {
                var e = Assert.Throws<InvalidOperationException>(() => getter(ref v));
                StringAssert.Contains(e.Message, "row 2");
                StringAssert.Contains(e.Message, "'Audio'");
                StringAssert.Contains(e.Message, "50 samples");
            }
            else
            {
                getter(ref v);
                Assert.AreEqual(20 * (1 + 2000 / 64), v.Length, $"row {i}");
            }
        }
        Assert.IsFalse(cursor.MoveNext());
    }
}
