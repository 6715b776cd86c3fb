using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Onnx;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;

namespace Microsoft.ML.Audio.Gpu.Tests.Onnx;

/// <summary>
/// The standalone feature transforms exported without a classifier: LoadAudio's column is the graph's input and every
/// later step's column an output of the same name, and ONNX Runtime gives ML.NET's values on the same decoded audio.
/// </summary>
[TestClass]
public sealed class OnnxFeatureExportTests
{
    private const int Rate = 8000, Samples = 2000, Files = 4;

    public sealed class FileRow
    {
        public string Path { get; set; } = "";
    }

    private static (MLContext ml, IDataView files, DirectoryInfo dir) Data()
    {
        var dir = Directory.CreateTempSubdirectory("onnx-features-");
        var rows = new List<FileRow>();
        for (int i = 0; i < Files; i++)
        {
            var noise = AudioData.Noise(Samples, i + 1);
            var signal = new double[Samples, 1];
            for (int t = 0; t < Samples; t++) signal[t, 0] = 0.3 * noise[t] * (1 + Math.Sin(2 * Math.PI * (i + 1) * t / Samples));
            string path = Path.Combine(dir.FullName, $"clip{i}.wav");
            File.WriteAllBytes(path, WavBuilder.For(signal, Rate, SampleFormat.Float32).ToBytes());
            rows.Add(new FileRow { Path = path });
        }
        var ml = new MLContext(1);
        return (ml, ml.Data.LoadFromEnumerable(rows), dir);
    }

    [TestMethod]
    [DataRow(OnnxStftForm.Convolution)]
    [DataRow(OnnxStftForm.StftOperator)]
    public void FeatureChain_RunsInOnnxRuntime_WithMlNetsValues(OnnxStftForm form)
    {
        var (ml, files, dir) = Data();
        try
        {
            var model = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), new LoadAudioOptions { SampleRate = Rate, DurationSeconds = Samples / (double)Rate })
                .Append(ml.Transforms.Audio.GpuStft("Spectrum", "Audio", new GpuStftOptions { FftLength = 256, WindowLength = 200, HopLength = 80 }))
                .Append(ml.Transforms.Audio.GpuMel("Mel", "Spectrum", new GpuMelOptions { MelBinCount = 32, MelScale = MelScale.Slaney, MelNorm = MelNorm.Slaney }))
                .Append(ml.Transforms.Audio.GpuDecibel("Db", "Mel", new GpuDecibelOptions { TopDb = 80 }))
                .Append(ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio", new MelSpectrogramOptions { FftLength = 256, HopLength = 80, MelBinCount = 40 }))
                .Append(ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 256, HopLength = 80, MelBinCount = 32, CoefficientCount = 13 }))
                .Append(ml.Transforms.Audio.GpuResample("Audio6k", "Audio", new GpuResampleOptions { SampleRate = 6000 }))
                .Append(ml.Transforms.Audio.GpuStft("Spectrum6k", "Audio6k", new GpuStftOptions { FftLength = 128 }))
                .Fit(files);
            var output = model.Transform(files);
            using var stream = new MemoryStream();
            AudioOnnxExport.Export(model, stream, new AudioOnnxExportOptions { StftForm = form });

            var audio = AudioData.Column(output, "Audio");
            var onnx = OnnxRun.Run(stream.ToArray(), "Audio", [.. audio.SelectMany(a => a)], [Files, Samples]);
            CollectionAssert.AreEquivalent(new[] { "Spectrum", "Mel", "Db", "LogMel", "Mfcc", "Audio6k", "Spectrum6k" }, onnx.Keys.ToArray(), "one output per feature column, named as the column");
            foreach (var column in new[] { "Spectrum", "Mel", "Audio6k", "Spectrum6k" })
            {
                var expected = AudioData.Column(output, column);
                var got = (float[])onnx[column];
                int per = expected[0].Length;
                Assert.HasCount(Files * per, got, column);
                for (int i = 0; i < Files; i++)
                    Compare.RelativeToMax(got[(i * per)..((i + 1) * per)], expected[i], OnnxTolerances.SpectrumRel, $"{column}, row {i}, {form}");
            }
            foreach (var column in new[] { "Db", "LogMel" })
            {
                var (top, floor) = DecibelDifferences(AudioData.Column(output, column), (float[])onnx[column]);
                Console.WriteLine($"{column} {form}: max |dB diff| {top:G3} within 60 dB of the peak, {floor:G3} below");
                Assert.IsLessThanOrEqualTo(OnnxTolerances.DecibelAbs, top, $"{column} within 60 dB of the peak, {form}");
                Assert.IsLessThanOrEqualTo(OnnxTolerances.DecibelNearFloorAbs, floor, $"{column} more than 60 dB below the peak, {form}");
            }
            var mfcc = AudioData.Column(output, "Mfcc");
            var gotMfcc = (float[])onnx["Mfcc"];
            double worst = 0;
            for (int i = 0; i < Files; i++)
                for (int k = 0; k < mfcc[i].Length; k++) worst = Math.Max(worst, Math.Abs(gotMfcc[i * mfcc[i].Length + k] - mfcc[i][k]));
            Console.WriteLine($"Mfcc {form}: max |diff| {worst:G3}");
            Assert.IsLessThanOrEqualTo(OnnxTolerances.CepstrumAbs, worst, $"MFCC, {form}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [TestMethod]
    [DataRow(EmbeddingPooling.MeanMax)]
    [DataRow(EmbeddingPooling.MeanMaxStd)]
    [DataRow(EmbeddingPooling.None)]
    public void SpeechEmbedding_RunsInOnnxRuntime_WithMlNetsEmbeddings(EmbeddingPooling pooling)
    {
        var (ml, files, dir) = Data();
        try
        {
            // 8 kHz files decoded at 16 kHz, 1 s: padded to the embedding's 1.2 s minimum, 6 windows.
            var model = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), new LoadAudioOptions { SampleRate = 16000, DurationSeconds = 1 })
                .Append(ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio", new SpeechEmbeddingOptions { Pooling = pooling }))
                .Fit(files);
            var output = model.Transform(files);
            using var stream = new MemoryStream();
            AudioOnnxExport.Export(model, stream);
            var audio = AudioData.Column(output, "Audio");
            var got = (float[])OnnxRun.Run(stream.ToArray(), "Audio", [.. audio.SelectMany(a => a)], [Files, 16000])["Embedding"];
            var expected = AudioData.Column(output, "Embedding");
            int per = expected[0].Length;
            Assert.HasCount(Files * per, got);
            for (int i = 0; i < Files; i++)
                Compare.RelativeToMax(got[(i * per)..((i + 1) * per)], expected[i], Tolerances.SpeechEmbeddingRel, $"{pooling}, row {i}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static (double top, double floor) DecibelDifferences(float[][] expected, float[] got)
    {
        double top = 0, floor = 0;
        int per = expected[0].Length;
        for (int i = 0; i < expected.Length; i++)
        {
            float peak = expected[i].Max();
            for (int k = 0; k < per; k++)
            {
                double diff = Math.Abs(got[i * per + k] - expected[i][k]);
                if (expected[i][k] >= peak - 60) top = Math.Max(top, diff);
                else floor = Math.Max(floor, diff);
            }
        }
        return (top, floor);
    }

    [TestMethod]
    public void OptionsWithoutAnOnnxForm_OrStepsOutOfPlace_FailTheExport_NamingThem()
    {
        var (ml, files, dir) = Data();
        try
        {
            var loading = new LoadAudioOptions { SampleRate = Rate, DurationSeconds = Samples / (double)Rate };
            var overwrite = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), loading)
                .Append(ml.Transforms.Audio.GpuStft("Audio", "Audio", new GpuStftOptions { FftLength = 256 })).Fit(files);
            var e = Assert.ThrowsExactly<NotSupportedException>(() => AudioOnnxExport.Export(overwrite, new MemoryStream()));
            StringAssert.Contains(e.Message, "GpuStft writes 'Audio' over an earlier column");

            var noLoad = ml.Transforms.Audio.GpuStft("Spectrum", "Audio");
            var data = AudioData.Load(ml, AudioData.NoiseRows(2, 1000), [1000], Rate);
            e = Assert.ThrowsExactly<NotSupportedException>(() => AudioOnnxExport.Export(noLoad.Fit(data), new MemoryStream()));
            StringAssert.Contains(e.Message, "starts with LoadAudio");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
