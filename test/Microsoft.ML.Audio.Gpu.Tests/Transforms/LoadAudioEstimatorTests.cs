using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

[TestClass]
public sealed class LoadAudioEstimatorTests
{
    private static DirectoryInfo _dir = null!;

    [ClassInitialize]
    public static void MakeFiles(TestContext _)
    {
        _dir = Directory.CreateTempSubdirectory("kapre-loadaudio-");
        Write("tone16k.wav", Signals.Sine(16000, 16000, 440, 0.5), 16000, SampleFormat.Pcm16);
        Write("tone44k.wav", Signals.Sine(44100, 44100, 440, 0.5), 44100, SampleFormat.Pcm16);
        Write("short16k.wav", Signals.Sine(8000, 16000, 1000, 0.25), 16000, SampleFormat.Float32);
        Write("stereo16k.wav", Signals.MultiChannel(12000, 2, 16000), 16000, SampleFormat.Pcm24);
        File.WriteAllBytes(Path.Combine(_dir.FullName, "empty.wav"), []);
        File.WriteAllText(Path.Combine(_dir.FullName, "notes.wav"), "this is not audio");
        var truncated = WavBuilder.For(Signals.Sine(16000, 16000, 440, 0.5), 16000, SampleFormat.Pcm16).ToBytes();
        File.WriteAllBytes(Path.Combine(_dir.FullName, "truncated.wav"), truncated[..(truncated.Length / 2)]);
        var nan = Signals.Sine(1600, 16000, 440, 0.5);
        nan[100, 0] = double.NaN;
        Write("nan.wav", nan, 16000, SampleFormat.Float32);
        File.WriteAllBytes(Path.Combine(_dir.FullName, "nodata.wav"), new WavBuilder { Data = [] }.ToBytes());
        // 3 s, silent but for a 0.4 s word-like burst at 2.0 s.
        var late = Signals.Sine(48000, 16000, 700, 0.5);
        for (int t = 0; t < 48000; t++) if (t < 32000 || t >= 38400) late[t, 0] = 0;
        Write("late3s.wav", late, 16000, SampleFormat.Pcm16);
    }

    [ClassCleanup]
    public static void DeleteFiles() => _dir.Delete(recursive: true);

    private static void Write(string name, double[,] signal, int rate, SampleFormat format)
        => File.WriteAllBytes(Path.Combine(_dir.FullName, name), WavBuilder.For(signal, rate, format).ToBytes());

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    private sealed class BytesRow
    {
        public byte[] Bytes { get; set; } = [];
    }

    private static IDataView Paths(MLContext ml, params string[] names) => ml.Data.LoadFromEnumerable(names.Select(n => new PathRow { Path = n }).ToArray());

    [TestMethod]
    public void Paths_DecodeLikeAudioDecoder_WithAnnotationsAndFixedSize()
    {
        var ml = new MLContext(1);
        var data = Paths(ml, "tone16k.wav", "tone44k.wav", "short16k.wav");
        var options = new LoadAudioOptions { SampleRate = 16000, DurationSeconds = 1.0, BaseFolder = _dir.FullName };
        var output = ml.Transforms.Audio.LoadAudio("Audio", "Path", options).Fit(data).Transform(data);

        var col = output.Schema["Audio"];
        CollectionAssert.AreEqual(new[] { 16000 }, ((VectorDataViewType)col.Type).Dimensions.ToArray());
        int rate = 0, channels = 0;
        col.Annotations.GetValue(AudioAnnotationKinds.SampleRate, ref rate);
        col.Annotations.GetValue(AudioAnnotationKinds.ChannelCount, ref channels);
        Assert.AreEqual(16000, rate);
        Assert.AreEqual(1, channels);

        var rows = AudioData.Column(output, "Audio");
        var decoding = new AudioDecodeOptions { SampleRate = 16000, DurationSeconds = 1.0, Pad = PadAlignment.Center };
        string[] names = ["tone16k.wav", "tone44k.wav", "short16k.wav"];
        for (int i = 0; i < names.Length; i++)
            CollectionAssert.AreEqual(AudioDecoder.Decode(Path.Combine(_dir.FullName, names[i]), decoding).Samples, rows[i], names[i]);
        // The 0.5 s file is centred in 1 s (LoadAudio's default): 0.25 s of zeros before and after it, and in between
        // the file itself; the 44.1 kHz one is resampled, not cut.
        Assert.IsTrue(rows[2][..4000].All(v => v == 0) && rows[2][12000..].All(v => v == 0));
        var whole = AudioDecoder.Decode(Path.Combine(_dir.FullName, "short16k.wav"), new AudioDecodeOptions { SampleRate = 16000 }).Samples;
        CollectionAssert.AreEqual(whole, rows[2][4000..12000], "the clip itself, moved");
        Assert.IsGreaterThan(0.4f, rows[1][15000..].Max());

        // Pad = Start: the clip first, the zeros after it (how models saved before the option decode).
        var atStart = ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { SampleRate = 16000, DurationSeconds = 1.0, BaseFolder = _dir.FullName, Pad = PadAlignment.Start })
            .Fit(data).Transform(data);
        var first = AudioData.Column(atStart, "Audio")[2];
        CollectionAssert.AreEqual(whole, first[..8000]);
        Assert.IsTrue(first[8000..].All(v => v == 0));
    }

    [TestMethod]
    public void LoudestCrop_KeepsAWordLateInALongRecording_StartCropDoesNot()
    {
        var ml = new MLContext(1);
        var data = Paths(ml, "late3s.wav", "short16k.wav");
        float[][] Load(CropAlignment crop) => AudioData.Column(ml.Transforms.Audio.LoadAudio("Audio", "Path",
            new LoadAudioOptions { DurationSeconds = 1.0, Crop = crop, BaseFolder = _dir.FullName }).Fit(data).Transform(data), "Audio");
        var start = Load(CropAlignment.Start);
        var loudest = Load(CropAlignment.Loudest);
        Assert.AreEqual(0f, start[0].Max(Math.Abs), "the first second of the file is silent");
        double energy = loudest[0].Sum(v => (double)v * v);
        Assert.AreEqual(6400 * 0.125, energy, 6400 * 0.125 * 0.01, "the whole 0.4 s burst (RMS 0.354) is in the kept second");
        CollectionAssert.AreEqual(start[1], loudest[1], "a clip shorter than the duration is padded the same way");
    }

    [TestMethod]
    public void Bytes_GiveTheSameSamplesAsPaths()
    {
        var ml = new MLContext(1);
        var bytes = ml.Data.LoadFromEnumerable(new[] { new BytesRow { Bytes = File.ReadAllBytes(Path.Combine(_dir.FullName, "tone44k.wav")) } });
        var fromBytes = AudioData.Column(ml.Transforms.Audio.LoadAudio("Audio", "Bytes").Fit(bytes).Transform(bytes), "Audio")[0];
        var paths = Paths(ml, Path.Combine(_dir.FullName, "tone44k.wav"));
        var fromPath = AudioData.Column(ml.Transforms.Audio.LoadAudio("Audio", "Path").Fit(paths).Transform(paths), "Audio")[0];
        Assert.HasCount(16000, fromBytes); // 1 s at 44.1 kHz resampled to the default 16 kHz
        CollectionAssert.AreEqual(fromPath, fromBytes);
    }

    [TestMethod]
    public void MultiChannel_KeepsChannels_AsChannelsBySamples()
    {
        var ml = new MLContext(1);
        var data = Paths(ml, "stereo16k.wav");
        var options = new LoadAudioOptions { Mono = false, ChannelCount = 2, DurationSeconds = 0.5, BaseFolder = _dir.FullName };
        var output = ml.Transforms.Audio.LoadAudio("Audio", "Path", options).Fit(data).Transform(data);
        CollectionAssert.AreEqual(new[] { 2, 8000 }, ((VectorDataViewType)output.Schema["Audio"].Type).Dimensions.ToArray());
        var expected = AudioDecoder.Decode(Path.Combine(_dir.FullName, "stereo16k.wav"), new AudioDecodeOptions { SampleRate = 16000, Mono = false, DurationSeconds = 0.5 });
        CollectionAssert.AreEqual(expected.Samples, AudioData.Column(output, "Audio")[0]);
    }

    [TestMethod]
    [DataRow("missing.wav", "missing.wav")]
    [DataRow("empty.wav", "empty.wav")]
    [DataRow("notes.wav", "notes.wav")]
    [DataRow("truncated.wav", "truncated.wav")]
    [DataRow("nan.wav", "NaN")]
    [DataRow("nodata.wav", "no audio samples")]
    public void BadFile_Throws_NamingIt_WhenItsRowIsRead_AndOtherRowsAreFine(string bad, string expectedInMessage)
    {
        var ml = new MLContext(1);
        var data = Paths(ml, "tone16k.wav", bad, "short16k.wav");
        var options = new LoadAudioOptions { DurationSeconds = 1.0, BaseFolder = _dir.FullName };
        var pipeline = ml.Transforms.Audio.LoadAudio("Audio", "Path", options)
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", new MelSpectrogramOptions { MelBinCount = 40 }));
        var output = pipeline.Fit(data).Transform(data);

        foreach (var column in new[] { "Audio", "Mel" })
        {
            var col = output.Schema[column];
            using var cursor = output.GetRowCursor([col]);
            var getter = cursor.GetGetter<VBuffer<float>>(col);
            var v = default(VBuffer<float>);
            Assert.IsTrue(cursor.MoveNext());
            getter(ref v);
            Assert.IsTrue(cursor.MoveNext());
            var e = Assert.Throws<AudioDecodeException>(() => getter(ref v), column);
            StringAssert.Contains(e.Message, bad);
            StringAssert.Contains(e.Message, expectedInMessage);
            Assert.IsTrue(cursor.MoveNext());
            getter(ref v);
            Assert.AreEqual(column == "Audio" ? 16000 : 40 * 126, v.Length, $"{column}: the row after the bad one");
            Assert.IsFalse(cursor.MoveNext());
        }
    }

    [TestMethod]
    public void FileWithOtherChannelCount_Throws_NamingItAndBothCounts()
    {
        var ml = new MLContext(1);
        var data = Paths(ml, "stereo16k.wav");
        var options = new LoadAudioOptions { Mono = false, ChannelCount = 3, BaseFolder = _dir.FullName };
        var output = ml.Transforms.Audio.LoadAudio("Audio", "Path", options).Fit(data).Transform(data);
        var e = Assert.Throws<AudioDecodeException>(() => AudioData.Column(output, "Audio"));
        StringAssert.Contains(e.Message, "stereo16k.wav");
        StringAssert.Contains(e.Message, "2 channel(s)");
        StringAssert.Contains(e.Message, "expects 3");
    }

    [TestMethod]
    public void EmptyPath_Throws_NamingColumnAndRow()
    {
        var ml = new MLContext(1);
        var data = Paths(ml, "  ");
        var output = ml.Transforms.Audio.LoadAudio("Audio", "Path").Fit(data).Transform(data);
        var e = Assert.Throws<AudioDecodeException>(() => AudioData.Column(output, "Audio"));
        StringAssert.Contains(e.Message, "column 'Path', row 0");
    }

    [TestMethod]
    public void GetOutputSchemaAndFit_Throw_NamingColumn_ForMissingOrWrongColumn()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(1, 100), [100], 16000);
        var estimator = ml.Transforms.Audio.LoadAudio("Out", "Audio");
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(Shapes.From(data.Schema)));
        StringAssert.Contains(e1.Message, "'Audio'");
        StringAssert.Contains(e1.Message, "String (file paths) or vector of Byte");
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(data));
        StringAssert.Contains(e2.Message, "'Audio'");
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Audio.LoadAudio("Out", "Nope").Fit(data));
        StringAssert.Contains(e3.Message, "'Nope'");
    }

    [TestMethod]
    [DataRow("SampleRate")]
    [DataRow("DurationSeconds")]
    [DataRow("ChannelCount")]
    public void Options_AreValidated_NamingTheProperty(string property)
    {
        var ml = new MLContext(1);
        LoadAudioOptions options = property switch
        {
            "SampleRate" => new() { SampleRate = 0 },
            "DurationSeconds" => new() { DurationSeconds = double.NaN },
            _ => new() { Mono = false },
        };
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.Audio.LoadAudio("Audio", "Path", options));
        Assert.AreEqual(property, e.ParamName);
    }

    [TestMethod]
    public void Pipeline_SavesAndLoadsInANewProcess_AndPredictsFromAPath()
    {
        var ml = new MLContext(1);
        var data = Paths(ml, "tone16k.wav", "tone44k.wav", "late3s.wav");
        var model = ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { DurationSeconds = 1.0, Crop = CropAlignment.Loudest, BaseFolder = _dir.FullName })
            .Append(ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", new MelSpectrogramOptions { MelBinCount = 32 }))
            .Fit(data);
        var expected = AudioData.Column(model.Transform(data), "Mel");

        string zip = Path.Combine(_dir.FullName, "model.zip"), input = Path.Combine(_dir.FullName, "in.idv"), output = Path.Combine(_dir.FullName, "out.idv");
        ml.Model.Save(model, data.Schema, zip);
        using (var f = File.Create(input)) ml.Data.SaveAsBinary(data, f);
        var (exit, log) = SecondProcess.Run("transform", zip, input, output);
        Assert.AreEqual(0, exit, log);
        var actual = AudioData.Column(ml.Data.LoadFromBinary(output), "Mel");
        for (int i = 0; i < expected.Length; i++) CollectionAssert.AreEqual(expected[i], actual[i], $"row {i}");

        var loaded = new MLContext(3).Model.Load(zip, out _);
        var engine = ml.Model.CreatePredictionEngine<PathRow, MelRow>(loaded);
        CollectionAssert.AreEqual(expected[1], engine.Predict(new PathRow { Path = "tone44k.wav" }).Mel);
    }

    private sealed class MelRow
    {
        public float[] Mel { get; set; } = [];
    }
}
