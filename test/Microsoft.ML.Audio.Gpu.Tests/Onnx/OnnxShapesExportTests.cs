using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Onnx;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Audio.Gpu.Tests.Onnx;

/// <summary>
/// Feature chains on multi-channel audio (LoadAudio <c>Mono = false</c>: input <c>float[N, channels, samples]</c>) and on
/// audio of any length (LoadAudio without DurationSeconds: a dynamic samples axis, and dynamic frames or windows after
/// it): one exported file, run by ONNX Runtime on each file at its own length, gives ML.NET's values.
/// </summary>
[TestClass]
public sealed class OnnxShapesExportTests
{
    private const int Rate = 8000;
    // Lengths that hit every remainder case of the framings (a multiple of the hop and not, shorter than 2 s and longer).
    private static readonly int[] Lengths = [1600, 2000, 2731, 3333];

    public sealed class FileRow
    {
        public string Path { get; set; } = "";
    }

    private static (MLContext ml, IDataView files, DirectoryInfo dir) Data(int channels, int[]? lengths = null)
    {
        lengths ??= Lengths;
        var dir = Directory.CreateTempSubdirectory("onnx-shapes-");
        var rows = new List<FileRow>();
        for (int i = 0; i < lengths.Length; i++)
        {
            var signal = new double[lengths[i], channels];
            for (int c = 0; c < channels; c++)
            {
                // Each channel its own noise and loudness, so that a channel mix-up shows.
                var noise = AudioData.Noise(lengths[i], 10 * i + c + 1);
                for (int t = 0; t < lengths[i]; t++) signal[t, c] = (0.3 - 0.1 * c) * noise[t] * (1 + Math.Sin(2 * Math.PI * (i + c + 1) * t / lengths[i]));
            }
            string path = Path.Combine(dir.FullName, $"clip{i}.wav");
            File.WriteAllBytes(path, WavBuilder.For(signal, Rate, SampleFormat.Float32).ToBytes());
            rows.Add(new FileRow { Path = path });
        }
        var ml = new MLContext(1);
        return (ml, ml.Data.LoadFromEnumerable(rows), dir);
    }

    /// <summary>Runs <paramref name="model"/> (an exported file) on each row's audio alone, at its own length.</summary>
    private static List<Dictionary<string, float[]>> RunEachRow(byte[] model, float[][] audio, int channels)
    {
        using var session = new InferenceSession(model);
        var input = session.InputMetadata.Single();
        Assert.AreEqual("Audio", input.Key);
        var outputs = new List<Dictionary<string, float[]>>();
        foreach (var row in audio)
        {
            int[] shape = channels == 1 ? [1, row.Length] : [1, channels, row.Length / channels];
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("Audio", new DenseTensor<float>(row, shape))]);
            outputs.Add(results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray()));
        }
        return outputs;
    }

    private static void AssertSpectraAgree(IDataView output, List<Dictionary<string, float[]>> onnx, string column, string what)
    {
        var expected = AudioData.Column(output, column);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.HasCount(expected[i].Length, onnx[i][column], $"{column}, row {i}, {what}");
            worst = Math.Max(worst, Compare.RelativeToMax(onnx[i][column], expected[i], OnnxTolerances.SpectrumRel, $"{column}, row {i}, {what}"));
        }
        Console.WriteLine($"{column}, {what}: max |diff| {worst:G3} of each row's largest value");
    }

    private static double WorstAbs(IDataView output, List<Dictionary<string, float[]>> onnx, string column)
    {
        var expected = AudioData.Column(output, column);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.HasCount(expected[i].Length, onnx[i][column], $"{column}, row {i}");
            for (int k = 0; k < expected[i].Length; k++) worst = Math.Max(worst, Math.Abs(onnx[i][column][k] - expected[i][k]));
        }
        return worst;
    }

    [TestMethod]
    [DataRow(2, true, OnnxStftForm.Convolution)]
    [DataRow(2, false, OnnxStftForm.Convolution)]
    [DataRow(2, false, OnnxStftForm.StftOperator)]
    [DataRow(1, false, OnnxStftForm.Convolution)]
    [DataRow(1, false, OnnxStftForm.StftOperator)]
    public void FeatureChain_OnMultiChannelOrAnyLength_GivesMlNetsValues(int channels, bool fixedLength, OnnxStftForm form)
    {
        var (ml, files, dir) = Data(channels);
        try
        {
            var loading = new LoadAudioOptions { SampleRate = Rate, Mono = channels == 1, ChannelCount = channels == 1 ? null : channels };
            if (fixedLength) loading.DurationSeconds = 0.25;
            var model = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), loading)
                .Append(ml.Transforms.Audio.GpuStft("Spectrum", "Audio", new GpuStftOptions { FftLength = 256, WindowLength = 200, HopLength = 80 }))
                .Append(ml.Transforms.Audio.GpuMel("Mel", "Spectrum", new GpuMelOptions { MelBinCount = 32 }))
                .Append(ml.Transforms.Audio.GpuDecibel("Db", "Mel", new GpuDecibelOptions { TopDb = 80 }))
                .Append(ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio", new MelSpectrogramOptions { FftLength = 256, HopLength = 80, MelBinCount = 40 }))
                .Append(ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 256, HopLength = 80, MelBinCount = 32, CoefficientCount = 13 }))
                .Append(ml.Transforms.Audio.GpuResample("Audio6k", "Audio", new GpuResampleOptions { SampleRate = 6000 }))
                .Append(ml.Transforms.Audio.GpuStft("Spectrum6k", "Audio6k", new GpuStftOptions { FftLength = 128, Power = 1 }))
                .Fit(files);
            var output = model.Transform(files);
            using var stream = new MemoryStream();
            AudioOnnxExport.Export(model, stream, new AudioOnnxExportOptions { StftForm = form });
            string what = $"{channels} channel(s), {(fixedLength ? "fixed length" : "any length")}, {form}";

            using (var session = new InferenceSession(stream.ToArray()))
            {
                var dims = session.InputMetadata["Audio"].Dimensions;
                int[] declared = (channels, fixedLength) switch
                {
                    (1, true) => [-1, 2000],
                    (1, false) => [-1, -1],
                    (_, true) => [-1, channels, 2000],
                    _ => [-1, channels, -1],
                };
                CollectionAssert.AreEqual(declared, dims, $"the input's declared shape, {what}");
            }
            var onnx = RunEachRow(stream.ToArray(), AudioData.Column(output, "Audio"), channels);
            foreach (var column in new[] { "Spectrum", "Mel", "Audio6k", "Spectrum6k" })
                AssertSpectraAgree(output, onnx, column, what);
            // Decibels: every value here is within 80 dB of its example's peak, where the two spectra agree to float32.
            double db = Math.Max(WorstAbs(output, onnx, "Db"), WorstAbs(output, onnx, "LogMel"));
            double mfcc = WorstAbs(output, onnx, "Mfcc");
            Console.WriteLine($"{what}: max |dB diff| {db:G3}, max |MFCC diff| {mfcc:G3}");
            Assert.IsLessThanOrEqualTo(OnnxTolerances.DecibelNearFloorAbs, db, $"decibels, {what}");
            Assert.IsLessThanOrEqualTo(OnnxTolerances.CepstrumAbs, mfcc, $"MFCC, {what}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [TestMethod]
    [DataRow(OnnxStftForm.Convolution)]
    [DataRow(OnnxStftForm.StftOperator)]
    public void EveryFraming_AtAnyLength_GivesMlNetsFrames(OnnxStftForm form)
    {
        var (ml, files, dir) = Data(1);
        try
        {
            IEstimator<ITransformer> chain = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), new LoadAudioOptions { SampleRate = Rate });
            var framings = Enum.GetValues<FramePadding>();
            foreach (var framing in framings)
                chain = chain.Append(ml.Transforms.Audio.GpuStft($"Stft{framing}", "Audio", new GpuStftOptions
                {
                    FftLength = 256, WindowLength = 200, HopLength = 80, Framing = framing, PadMode = PadMode.Reflect,
                }));
            var model = chain.Fit(files);
            var output = model.Transform(files);
            using var stream = new MemoryStream();
            AudioOnnxExport.Export(model, stream, new AudioOnnxExportOptions { StftForm = form });
            var onnx = RunEachRow(stream.ToArray(), AudioData.Column(output, "Audio"), 1);
            foreach (var framing in framings)
                AssertSpectraAgree(output, onnx, $"Stft{framing}", $"{framing}, {form}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [TestMethod]
    [DataRow(EmbeddingPooling.MeanMax)]
    [DataRow(EmbeddingPooling.None)]
    public void SpeechEmbedding_AtAnyLength_GivesMlNetsEmbeddings(EmbeddingPooling pooling)
    {
        // 8 kHz clips of 0.2 to 0.42 s, resampled to 16 kHz in the graph and padded to the embedding's 1 s minimum there,
        // and one of 3 s: 28 windows, more than the padded clips' 6.
        var (ml, files, dir) = Data(1, [.. Lengths, 24000]);
        try
        {
            var model = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), new LoadAudioOptions { SampleRate = Rate })
                .Append(ml.Transforms.Audio.GpuResample("Audio16k", "Audio", new GpuResampleOptions { SampleRate = 16000 }))
                .Append(ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio16k", new SpeechEmbeddingOptions { Pooling = pooling, MinimumDurationSeconds = 1 }))
                .Fit(files);
            var output = model.Transform(files);
            using var stream = new MemoryStream();
            AudioOnnxExport.Export(model, stream);
            var onnx = RunEachRow(stream.ToArray(), AudioData.Column(output, "Audio"), 1);
            var expected = AudioData.Column(output, "Embedding");
            if (pooling == EmbeddingPooling.None)
                Assert.AreEqual(96 * 28, expected[^1].Length, "the 3 s clip's windows");
            double worst = 0;
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.HasCount(expected[i].Length, onnx[i]["Embedding"], $"row {i}, {pooling}");
                worst = Math.Max(worst, Compare.RelativeToMax(onnx[i]["Embedding"], expected[i], Tolerances.SpeechEmbeddingRel, $"row {i}, {pooling}"));
            }
            Console.WriteLine($"SpeechEmbedding {pooling}, any length: max |diff| {worst:G3} of each row's largest value");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
