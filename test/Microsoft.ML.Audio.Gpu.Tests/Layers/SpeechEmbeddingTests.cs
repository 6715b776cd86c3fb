using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>
/// The speech embedding's layers, with the pretrained weights shipped in the library, against openWakeWord's own ONNX
/// files run by ONNX Runtime (the files are fetched, hash-checked, by build/fetch-speech-embedding.sh): the log-mel
/// front end, the network, and the whole model over a long clip's sliding windows (what streaming sees), on real
/// speech (Kapre's recording), synthetic speech (the sample's espeak-ng words) and noise.
/// </summary>
[TestClass]
public sealed class SpeechEmbeddingTests
{
    private static string OnnxDir => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "artifacts", "speech-embedding"));
    internal static string MelOnnx => Path.Combine(OnnxDir, "melspectrogram.onnx");
    internal static string EmbeddingOnnx => Path.Combine(OnnxDir, "embedding_model.onnx");

    internal static InferenceSession Session(string path)
    {
        Assert.IsTrue(File.Exists(path), $"{path} is missing: run build/fetch-speech-embedding.sh (.ci/run does)");
        return new InferenceSession(path);
    }

    /// <summary>Real speech (Kapre's recording, 16 kHz), a synthetic word, and noise, as 16 kHz mono.</summary>
    public static IEnumerable<object[]> Clips =>
    [
        ["kapre speech", Path.Combine(ReferenceFixtures.Root, "kapre", "speech_test_file.wav")],
        ["espeak word", Path.Combine(AppContext.BaseDirectory, "Data", "words", "yes", "en-gb-rob_yes.wav")],
        ["noise", ""],
    ];

    private static float[] Audio(string path) => path.Length == 0
        ? AudioData.Noise(20000, seed: 3, amplitude: 0.3f)
        : AudioDecoder.Decode(path, new AudioDecodeOptions { SampleRate = 16000 }).Samples;

    /// <summary>openWakeWord's front end: the ONNX graph on 16-bit-scaled samples, then <c>x / 10 + 2</c>.</summary>
    internal static float[] OnnxMel(InferenceSession session, float[] audio, out int frames)
    {
        var input = new DenseTensor<float>(audio.Select(v => v * 32768f).ToArray(), [1, audio.Length]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", input)]);
        var output = results.First().AsTensor<float>();
        frames = output.Dimensions[2];
        return output.ToArray().Select(v => v / 10f + 2f).ToArray(); // [1, 1, frames, 32]
    }

    internal static float[] OnnxEmbedding(InferenceSession session, float[] window)
    {
        var input = new DenseTensor<float>(window, [1, SpeechEmbeddingNetwork.WindowFrames, SpeechEmbeddingFrontEnd.MelBinCount, 1]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input_1", input)]);
        return results.First().AsTensor<float>().ToArray();
    }

    internal static double MaxRelative(float[] actual, float[] expected)
    {
        Assert.HasCount(expected.Length, actual);
        double scale = expected.Max(v => Math.Abs((double)v));
        return actual.Zip(expected).Max(p => Math.Abs((double)p.First - p.Second)) / scale;
    }

    [TestMethod]
    [DynamicData(nameof(Clips))]
    public void FrontEnd_EqualsOpenWakeWordsMelSpectrogramOnnx(string name, string path)
    {
        using var session = Session(MelOnnx);
        var audio = Audio(path);
        var expected = OnnxMel(session, audio, out int frames);
        using var scope = NewDisposeScope();
        using var model = SpeechEmbedding.Pretrained();
        using var _ = no_grad();
        var mel = model.FrontEnd.call(tensor(audio, [1, audio.Length]));
        Compare.Shape(mel, [1, 32, frames], name);
        double error = MaxRelative(Compare.ToArray(mel.transpose(1, 2)), expected);
        Console.WriteLine($"{name}: {frames} frames, front end max error {error:E2} of the largest value");
        Assert.IsLessThan(Tolerances.SpeechEmbeddingRel, error, name);
    }

    [TestMethod]
    [DynamicData(nameof(Clips))]
    public void SlidingWindows_EqualOnnxRuntimeWindowByWindow(string name, string path)
    {
        using var melSession = Session(MelOnnx);
        using var embeddingSession = Session(EmbeddingOnnx);
        var audio = Audio(path);
        if (audio.Length < SpeechEmbedding.WindowSamples) audio = [.. audio, .. new float[SpeechEmbedding.WindowSamples - audio.Length]];
        var mel = OnnxMel(melSession, audio, out int frames);
        using var scope = NewDisposeScope();
        using var model = SpeechEmbedding.Pretrained(EmbeddingPooling.None);
        using var _ = no_grad();
        var ours = model.call(tensor(audio, [1, audio.Length]));
        long windows = 1 + (frames - SpeechEmbeddingNetwork.WindowFrames) / SpeechEmbedding.WindowStep;
        Assert.AreEqual(model.window_count(audio.Length), windows, "window count");
        Compare.Shape(ours, [1, windows, 96], name);
        var actual = Compare.ToArray(ours);
        double worst = 0;
        for (int w = 0; w < windows; w++)
        {
            var window = mel.Skip(w * SpeechEmbedding.WindowStep * 32).Take(SpeechEmbeddingNetwork.WindowFrames * 32).ToArray();
            var expected = OnnxEmbedding(embeddingSession, window);
            worst = Math.Max(worst, MaxRelative(actual.Skip(w * 96).Take(96).ToArray(), expected));
        }
        Console.WriteLine($"{name}: {windows} windows, embedding max error {worst:E2} of the largest value");
        Assert.IsLessThan(Tolerances.SpeechEmbeddingRel, worst, name);
    }

    [TestMethod]
    public void Network_EqualsEmbeddingOnnx_OnABatchOfWindows()
    {
        using var session = Session(EmbeddingOnnx);
        using var scope = NewDisposeScope();
        using var model = SpeechEmbedding.Pretrained();
        // Log-mel-like values: the front end gives about -6 (silence) to 4 (loud speech).
        var windows = rand(new long[] { 5, 76, 32 }, generator: new Generator(seed: 2)).mul(HeldScalars.Two).mul(HeldScalars.Two).sub(HeldScalars.Two);
        using var _ = no_grad();
        var actual = Compare.ToArray(model.Network.call(windows));
        var all = Compare.ToArray(windows);
        for (int i = 0; i < 5; i++)
        {
            var expected = OnnxEmbedding(session, all.Skip(i * 76 * 32).Take(76 * 32).ToArray());
            Assert.IsLessThan(Tolerances.SpeechEmbeddingRel, MaxRelative(actual.Skip(i * 96).Take(96).ToArray(), expected), $"window {i}");
        }
    }

    [TestMethod]
    public void ProjectsOwnFourierBasis_MatchesTheOnnxStftKernels()
    {
        // The ONNX STFT is the Hann(400)-in-512 DFT basis that ConvStft builds itself: the library's layer is the right
        // front end, the pretrained weights only confirm it.
        using var scope = NewDisposeScope();
        using var ours = AudioLayers.ConvStft(512, 400, 160, WindowType.Hann, FramePadding.NoCenter, trainable: false);
        using var pretrained = SpeechEmbedding.Pretrained();
        double error = MaxRelative(Compare.ToArray(ours.Kernel), Compare.ToArray(pretrained.FrontEnd.Stft.Kernel));
        Console.WriteLine($"Fourier basis vs ONNX kernels: {error:E2}");
        Assert.IsLessThan(1e-6, error, "the kernels differ by more than float32 rounding");
    }

    [TestMethod]
    public void Pooling_ShortClips_AndArguments()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var audio = rand(new long[] { 3, 16000 }, generator: new Generator(seed: 5)).sub(HeldScalars.One);
        using var none = SpeechEmbedding.Pretrained(EmbeddingPooling.None, min_samples: 19200);
        var windows = none.call(audio);
        Compare.Shape(windows, [3, 6, 96], "1 s padded to 1.2 s: 117 frames, 6 windows");
        using var meanMax = SpeechEmbedding.Pretrained(EmbeddingPooling.MeanMax, min_samples: 19200);
        var pooled = Compare.ToArray(meanMax.call(audio));
        var expected = Compare.ToArray(cat([windows.mean([1]), windows.amax([1])], 1));
        CollectionAssert.AreEqual(expected, pooled, "mean then max of the windows");
        // Mean, maximum and population deviation, the last computed here in double from the windows.
        using var withDeviation = SpeechEmbedding.Pretrained(EmbeddingPooling.MeanMaxStd, min_samples: 19200);
        Assert.AreEqual(288, withDeviation.output_size);
        var three = Compare.ToArray(withDeviation.call(audio));
        var perWindow = Compare.ToArray(windows);
        for (int b = 0; b < 3; b++)
        {
            CollectionAssert.AreEqual(expected.Skip(b * 192).Take(192).ToArray(), three.Skip(b * 288).Take(192).ToArray(), $"clip {b}: mean and max first");
            for (int d = 0; d < 96; d++)
            {
                var values = Enumerable.Range(0, 6).Select(w => (double)perWindow[(b * 6 + w) * 96 + d]).ToArray();
                double mean = values.Average(), deviation = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length);
                Assert.AreEqual(deviation, three[b * 288 + 192 + d], 1e-5 + 1e-5 * deviation, $"clip {b}, value {d}: the deviation over 6 windows, divided by 6");
            }
        }
        using var one = SpeechEmbedding.Pretrained(EmbeddingPooling.Mean);
        Compare.Shape(one.call(audio.narrow(1, 0, 4000)), [3, 96], "a 0.25 s clip is padded to one window");

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SpeechEmbedding.Pretrained(min_samples: 100));
        StringAssert.Contains(e.Message, "min_samples must be at least 12512");
        using var wrong = zeros(2, 2, 16000);
        var e2 = Assert.Throws<ArgumentException>(() => one.call(wrong));
        StringAssert.Contains(e2.Message, "(batch, samples)");
    }

    [TestMethod]
    public void Windows_InOnePass_EqualEachWindowAlone()
    {
        // The network on a whole sequence gives every window that starts at a multiple of 8 frames: compared with the
        // window-by-window forward on 6 windows and 5 spare frames (which must not add a window).
        using var scope = NewDisposeScope();
        using var model = SpeechEmbedding.Pretrained();
        using var _ = no_grad();
        long frames = SpeechEmbeddingNetwork.WindowFrames + 5 * SpeechEmbedding.WindowStep + 5;
        var sequence = rand(new long[] { 2, frames, 32 }, generator: new Generator(seed: 11)).mul(HeldScalars.Two).mul(HeldScalars.Two).sub(HeldScalars.Two);
        var together = model.Network.windows(sequence);
        Compare.Shape(together, [2, 6, 96], "6 windows");
        var actual = Compare.ToArray(together);
        for (int w = 0; w < 6; w++)
        {
            var alone = Compare.ToArray(model.Network.call(sequence.narrow(1, w * SpeechEmbedding.WindowStep, SpeechEmbeddingNetwork.WindowFrames)));
            for (int b = 0; b < 2; b++)
            {
                var expected = alone.Skip(b * 96).Take(96).ToArray();
                var got = actual.Skip((b * 6 + w) * 96).Take(96).ToArray();
                Assert.IsLessThan(Tolerances.SpeechEmbeddingRel, MaxRelative(got, expected), $"example {b}, window {w}");
            }
        }
    }

    [TestMethod]
    public void ShortClips_AreCentred_OrPaddedAtTheEnd()
    {
        // 0.5 s in 1.5 s: 0.5 s of silence before the clip when centred, none when padded at the end. Each must equal the
        // same clip padded by hand and run without padding (a clip already at the minimum length is not padded).
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var scale = 0.3.ToScalar();
        var clip = rand(new long[] { 1, 8000 }, generator: new Generator(seed: 4)).sub(HeldScalars.One).mul(scale);
        using var centred = SpeechEmbedding.Pretrained(EmbeddingPooling.None, min_samples: 24000);
        using var atStart = SpeechEmbedding.Pretrained(EmbeddingPooling.None, min_samples: 24000, center: false);
        Assert.AreEqual((8000L, 8000L), centred.padding(8000));
        Assert.AreEqual((0L, 16000L), atStart.padding(8000));
        Assert.AreEqual((4L, 5L), centred.padding(24000 - 9), "the odd sample goes after the clip");
        Assert.AreEqual((0L, 0L), centred.padding(30000));
        var byHand = nn.functional.pad(clip, [8000, 8000]);
        CollectionAssert.AreEqual(Compare.ToArray(centred.call(byHand)), Compare.ToArray(centred.call(clip)), "centred");
        var ends = nn.functional.pad(clip, [0, 16000]);
        CollectionAssert.AreEqual(Compare.ToArray(atStart.call(ends)), Compare.ToArray(atStart.call(clip)), "padded at the end");
        Assert.IsGreaterThan(1e-3, MaxRelative(Compare.ToArray(centred.call(clip)), Compare.ToArray(atStart.call(clip))), "the placements differ");
    }
}
