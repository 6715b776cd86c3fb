using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Transforms;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// NaN and infinite samples: LoadAudio rejects them (AudioDecoder names the frame; see IO/BadAudioTests); vectors from
/// elsewhere are not scanned (it would cost a pass over every batch), so a NaN row gives NaN outputs for that row only:
/// batching never lets one row's values reach another's.
/// </summary>
[TestClass]
public sealed class NonFiniteInputTests
{
    [TestMethod]
    [DataRow(float.NaN)]
    [DataRow(float.PositiveInfinity)]
    public void NonFiniteRow_AffectsOnlyItself_InABatch(float bad)
    {
        var ml = new MLContext(1);
        var rows = AudioData.NoiseRows(6, 2000);
        var clean = AudioData.Column(Run(ml, rows), "Mel");
        rows[3].Audio[500] = bad;
        var dirty = AudioData.Column(Run(ml, rows), "Mel");
        for (int i = 0; i < rows.Length; i++)
        {
            if (i == 3) Assert.IsTrue(dirty[i].Any(v => !float.IsFinite(v)), "the bad row shows it");
            else CollectionAssert.AreEqual(clean[i], dirty[i], $"row {i} is unaffected by row 3");
        }
    }

    [TestMethod]
    public void FloatSamplesBeyondFullScale_AreKeptAsStored_NotClipped()
    {
        var signal = new double[4, 1] { { 1.5 }, { -2.0 }, { 0.25 }, { 1e5 } };
        var bytes = IO.WavBuilder.For(signal, 8000, IO.SampleFormat.Float32).ToBytes();
        var audio = Microsoft.ML.Audio.Gpu.IO.AudioDecoder.Decode(bytes, "loud.wav", new Microsoft.ML.Audio.Gpu.IO.AudioDecodeOptions());
        CollectionAssert.AreEqual(new[] { 1.5f, -2f, 0.25f, 1e5f }, audio.Samples, "the level is the file's; clipping would lose information silently");
    }

    private static IDataView Run(MLContext ml, AudioRow[] rows)
    {
        var data = AudioData.Load(ml, rows, [2000], 16000);
        return ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20, BatchSize = 6 })
            .Fit(data).Transform(data);
    }
}
