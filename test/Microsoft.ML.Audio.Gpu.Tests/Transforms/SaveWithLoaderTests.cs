using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// ML.NET's second save route: a model saved with its data loader loads with LoadWithDataLoader in a fresh context and
/// gives the same rows, for every transform (the loader and the chain are stored together; the transforms load through
/// their SignatureLoadModel registration).
/// </summary>
[TestClass]
public sealed class SaveWithLoaderTests
{
    [TestMethod]
    public void ModelSavedWithItsLoader_LoadsWithTheLoader_AndGivesTheSameRows()
    {
        var dir = Directory.CreateTempSubdirectory("kapre-loader-");
        try
        {
            var paths = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                var signal = new double[8000, 1];
                var noise = AudioData.Noise(8000, i);
                for (int t = 0; t < 8000; t++) signal[t, 0] = noise[t];
                string path = Path.Combine(dir.FullName, $"clip{i}.wav");
                File.WriteAllBytes(path, WavBuilder.For(signal, 16000, SampleFormat.Pcm16).ToBytes());
                paths.Add(path);
            }
            string list = Path.Combine(dir.FullName, "list.tsv");
            File.WriteAllLines(list, paths);
            var ml = new MLContext(1);
            var loader = ml.Data.CreateTextLoader([new TextLoader.Column("Path", DataKind.String, 0)], hasHeader: false);
            var pipeline = ml.Transforms.Audio.LoadAudio("Audio", "Path", new LoadAudioOptions { DurationSeconds = 0.5 })
                .Append(ml.Transforms.Audio.GpuResample("Audio8k", "Audio", new GpuResampleOptions { SampleRate = 8000 }))
                .Append(ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = 256 }))
                .Append(ml.Transforms.Audio.GpuMel("Mel", "Spec", new GpuMelOptions { MelBinCount = 20 }))
                .Append(ml.Transforms.Audio.GpuDecibel("Db", "Mel"))
                .Append(ml.Transforms.Audio.MelSpectrogramGpu("Fused", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20 }))
                .Append(ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 20, CoefficientCount = 8 }))
                .Append(ml.Transforms.Audio.SpeechEmbedding("Embedding", "Audio"));
            var data = loader.Load(list);
            var model = pipeline.Fit(data);
            string zip = Path.Combine(dir.FullName, "model.zip");
            ml.Model.Save(model, loader, zip);

            var ml2 = new MLContext(2);
            var loaded = ml2.Model.LoadWithDataLoader(zip, out IDataLoader<IMultiStreamSource> loader2);
            var expected = model.Transform(data);
            var actual = loaded.Transform(loader2.Load(list));
            foreach (var column in new[] { "Audio8k", "Db", "Fused", "Mfcc", "Embedding" })
            {
                var a = AudioData.Column(expected, column);
                var b = AudioData.Column(actual, column);
                Assert.HasCount(3, b, column);
                for (int i = 0; i < 3; i++) CollectionAssert.AreEqual(a[i], b[i], $"{column}, row {i}");
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
