using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>
/// Streaming classification: a model trained on 0.25 s clips of three synthetic "words" and quiet noise listens to a
/// long signal with the words at known places; the detections are those words, in order, at those places, however
/// the stream is chunked, from samples or from 16-bit PCM.
/// </summary>
[TestClass]
public sealed class StreamingAudioClassifierTests
{
    private const int Rate = 8000, Window = 2000;
    private static MLContext _ml = null!;
    private static ITransformer _model = null!;

    /// <summary>(word, onset in samples, length in samples) of the long signal, 8 s at 8 kHz.</summary>
    private static readonly (string word, int onset, int length)[] Words =
        [("high", 8000, 1200), ("low", 20000, 1400), ("rise", 32000, 1300), ("high", 48000, 1000)];

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        _ml = new MLContext(1);
        var clips = AudioClassificationTrainerTests.Clips(20, 1).ToList();
        var rng = new Random(2);
        for (int i = 0; i < 20; i++) clips.Add(new AudioClassificationTrainerTests.Clip { Word = "_quiet_", Audio = Noise(Window, rng) });
        var definition = SchemaDefinition.Create(typeof(AudioClassificationTrainerTests.Clip));
        var audio = definition[nameof(AudioClassificationTrainerTests.Clip.Audio)];
        audio.ColumnType = new VectorDataViewType(NumberDataViewType.Single, Window);
        audio.AddAnnotation(AudioAnnotationKinds.SampleRate, Rate, NumberDataViewType.Int32);
        var data = _ml.Data.LoadFromEnumerable(clips, definition);
        // The model reads audio only (the label mapping is fitted beside it), as a deployed model does.
        var mel = _ml.Transforms.Audio.MelSpectrogramGpu("Features", "Audio",
            new MelSpectrogramOptions { FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 }).Fit(data);
        var labelled = _ml.Transforms.Conversion.MapValueToKey("Label", "Word").Fit(data).Transform(mel.Transform(data));
        var classifier = _ml.MulticlassClassification.Trainers.AudioClassification(new AudioClassificationOptions { Epochs = 15, BatchSize = 16 }).Fit(labelled);
        _model = new TransformerChain<ITransformer>(mel, classifier);
    }

    private static float[] Noise(int n, Random rng) => [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * 0.02))];

    /// <summary>8 s of quiet noise with <see cref="Words"/> in it, each made as the training clips' words are.</summary>
    private static float[] LongSignal()
    {
        var rng = new Random(9);
        var x = Noise(64000, rng);
        foreach (var (word, onset, length) in Words)
        {
            double f0 = word switch { "low" => 400, "high" => 2200, _ => 600 }, gain = 0.4;
            for (int u = 0; u < length; u++)
            {
                double f = word == "rise" ? f0 + 2500 * u / (double)length : f0;
                x[onset + u] += (float)(gain * Math.Sin(2 * Math.PI * f * u / Rate) * Math.Sin(Math.PI * u / length));
            }
        }
        return x;
    }

    private static StreamingAudioClassifier Classifier(bool gate = true) => new(_ml, _model, new StreamingClassifierOptions
    {
        InputColumnName = "Audio", SampleRate = Rate, WindowSeconds = 0.25, HopSeconds = 0.0625, VoiceActivityGate = gate ? new() : null,
    });

    private static void AssertFindsTheWords(IReadOnlyList<AudioDetection> found)
    {
        string said = string.Join("\n", found);
        Console.WriteLine(said);
        CollectionAssert.AreEqual(Words.Select(w => w.word).ToArray(), found.Select(d => d.Label).ToArray(), said);
        for (int i = 0; i < Words.Length; i++)
        {
            double centre = (Words[i].onset + Words[i].length / 2.0) / Rate;
            var d = found[i];
            Assert.IsTrue(d.Start.TotalSeconds <= centre && centre <= d.End.TotalSeconds, $"word {i} centred at {centre:F3} s, detected {d}");
            Assert.IsLessThan(0.15, Math.Abs(d.Peak.TotalSeconds - centre), $"word {i} centred at {centre:F3} s, peak of {d}");
            Assert.IsLessThan(0.6, d.End.TotalSeconds - d.Start.TotalSeconds, $"word {i}: {d} is longer than the word and a window");
        }
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(333)]
    [DataRow(8000)]
    [DataRow(64000)]
    public void Push_FindsTheWordsAtTheirPlaces_ForAnyChunking(int chunk)
    {
        var signal = LongSignal();
        using var stream = Classifier();
        CollectionAssert.AreEqual(new[] { "high", "low", "rise", "_quiet_" }.Order().ToArray(), stream.ClassNames.Order().ToArray());
        var found = new List<AudioDetection>();
        for (int at = 0; at < signal.Length; at += chunk)
            found.AddRange(stream.Push(signal.AsSpan(at, Math.Min(chunk, signal.Length - at))));
        found.AddRange(stream.Flush());
        AssertFindsTheWords(found);
        Assert.AreEqual(8.0, stream.Received.TotalSeconds, 1e-9);
    }

    [TestMethod]
    public async Task ListenAsync_ReadsPcm16_AndYieldsTheSameDetections()
    {
        var signal = LongSignal();
        var pcm = new byte[signal.Length * 2];
        for (int i = 0; i < signal.Length; i++)
            BitConverter.TryWriteBytes(pcm.AsSpan(2 * i), (short)Math.Clamp(Math.Round(signal[i] * 32768), short.MinValue, short.MaxValue));
        using var stream = Classifier();
        var found = new List<AudioDetection>();
        await foreach (var d in stream.ListenAsync(new MemoryStream(pcm))) found.Add(d);
        AssertFindsTheWords(found);
    }

    [TestMethod]
    public void Quiet_GivesNoDetection()
    {
        using var stream = Classifier();
        var found = stream.Push(Noise(40000, new Random(4))).Concat(stream.Flush()).ToList();
        Assert.IsEmpty(found, string.Join("\n", found));
    }

    [TestMethod]
    public void Gate_PassesOverTheQuietStretches_AndFindsTheSameWords()
    {
        // The same 8 s with and without the voice-activity gate: the same four detections, and with the gate most
        // windows (those of noise alone, 20 dB under the words) are never scored.
        var signal = LongSignal();
        using var gated = Classifier(gate: true);
        using var plain = Classifier(gate: false);
        var withGate = gated.Push(signal).Concat(gated.Flush()).ToList();
        var without = plain.Push(signal).Concat(plain.Flush()).ToList();
        AssertFindsTheWords(withGate);
        CollectionAssert.AreEqual(without.Select(d => d.Label).ToArray(), withGate.Select(d => d.Label).ToArray());
        for (int i = 0; i < without.Count; i++)
            Assert.AreEqual(without[i].Peak.TotalSeconds, withGate[i].Peak.TotalSeconds, 0.07, $"detection {i}: {withGate[i]} vs {without[i]}");
        Assert.AreEqual(0, plain.SkippedWindows);
        long windows = plain.ScoredWindows;
        Console.WriteLine($"gate: scored {gated.ScoredWindows} of {windows} windows");
        Assert.AreEqual(windows, gated.ScoredWindows + gated.SkippedWindows, "every window is scored or passed over");
        Assert.IsLessThan(windows / 2, gated.ScoredWindows, "most windows hold noise alone");
        Assert.IsGreaterThan(Words.Length * 3, gated.ScoredWindows, "each word's windows are scored");
    }

    [TestMethod]
    public void Gate_OnDigitalSilence_ScoresNoWindow()
    {
        using var stream = Classifier();
        var found = stream.Push(new float[5 * Rate]).Concat(stream.Flush()).ToList();
        Assert.IsEmpty(found);
        Assert.AreEqual(0, stream.ScoredWindows);
        Assert.IsGreaterThan(70, stream.SkippedWindows);
        Assert.AreEqual("MarginDb", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingAudioClassifier(_ml, _model, new StreamingClassifierOptions
        {
            InputColumnName = "Audio", SampleRate = Rate, WindowSeconds = 0.25, VoiceActivityGate = new VoiceActivityGateOptions { MarginDb = -1 },
        })).ParamName);
    }

    [TestMethod]
    public void BadSettings_AreRefused_NamingThem()
    {
        Assert.AreEqual("HopSeconds", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingAudioClassifier(_ml, _model,
            new StreamingClassifierOptions { InputColumnName = "Audio", SampleRate = Rate, WindowSeconds = 0.25, HopSeconds = 0 })).ParamName);
        Assert.AreEqual("ReleaseThreshold", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingAudioClassifier(_ml, _model,
            new StreamingClassifierOptions { InputColumnName = "Audio", SampleRate = Rate, WindowSeconds = 0.25, ReleaseThreshold = 0.9 })).ParamName);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => new StreamingAudioClassifier(_ml, _model)).Message, "InputColumnName");
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => new StreamingAudioClassifier(_ml, _model, new StreamingClassifierOptions
        {
            InputColumnName = "Audio", SampleRate = Rate, WindowSeconds = 0.25, IgnoredClasses = ["silence"],
        })).Message, "'silence', which is not a class");
    }
}
