using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// On the CPU a batch goes through the layer in chunks of at most <see cref="GpuAudioTransformerBase.CpuChunkSamples"/>
/// samples, written into one result array that the cursor reuses from batch to batch. Rows must come out as if each had
/// been computed alone, whatever chunk or batch they fell in.
/// </summary>
[TestClass]
public sealed class CpuChunkingTests
{
    [TestMethod]
    [DataRow(64, 16000, 16)]
    [DataRow(50, 20000, 13)] // 4 chunks of 13, 13, 13 and 11, not 13, 13, 13, 13
    [DataRow(16, 64000, 4)]
    [DataRow(3, 661500, 1)] // longer than a chunk: one row per call
    [DataRow(1, 3520, 1)]
    public void ChunkRows_SplitsIntoNearEqualChunksOfAtMostTheChunkSize(int rows, int length, int expected)
    {
        int chunk = GpuAudioTransformerBase.ChunkRows(rows, length);
        Assert.AreEqual(expected, chunk);
        Assert.IsTrue(chunk == 1 || (long)chunk * length <= GpuAudioTransformerBase.CpuChunkSamples);
    }

    /// <summary>Every row of every batch (3 batches of 50 rows, each 4 chunks) equals that row computed alone.</summary>
    [TestMethod]
    [DataRow("GpuStft")]
    [DataRow("MelSpectrogramGpu")]
    public void RowsOfChunkedBatches_EqualRowsComputedAlone(string name)
    {
        var ml = new MLContext(1);
        const int rows = 130, length = 20000;
        var data = ml.Data.Cache(AudioData.Load(ml, AudioData.NoiseRows(rows, length), [length], 16000));
        IEstimator<ITransformer> estimator = name == "GpuStft"
            ? ml.Transforms.Audio.GpuStft("Out", "Audio", new GpuStftOptions { FftLength = 512, HopLength = 160, BatchSize = 50 })
            : ml.Transforms.Audio.MelSpectrogramGpu("Out", "Audio", new MelSpectrogramOptions { FftLength = 512, HopLength = 160, MelBinCount = 64, TopDb = 80, BatchSize = 50 });
        var model = estimator.Fit(data);
        var batched = AudioData.Column(model.Transform(data), "Out");
        Assert.HasCount(rows, batched);

        var mapper = model.GetRowToRowMapper(data.Schema);
        var outCol = mapper.OutputSchema["Out"];
        using var cursor = data.GetRowCursor(mapper.GetDependencies([outCol]));
        using var row = mapper.GetRow(cursor, [outCol]);
        var getter = row.GetGetter<VBuffer<float>>(outCol);
        var v = default(VBuffer<float>);
        for (int i = 0; cursor.MoveNext(); i++)
        {
            getter(ref v);
            var alone = v.DenseValues().ToArray();
            Assert.HasCount(alone.Length, batched[i]);
            if (name == "GpuStft")
            {
                CollectionAssert.AreEqual(alone, batched[i], $"row {i}: chunked batch vs alone");
                continue;
            }
            // A whole chunk takes the banded mel product, a single row the dense one: equal up to float rounding.
            double worst = alone.Zip(batched[i], (a, b) => Math.Abs(a - (double)b)).Max();
            Assert.IsLessThanOrEqualTo(Tolerances.DecibelAbs, worst, $"row {i}: max |diff| = {worst} dB");
        }
    }

    /// <summary>
    /// Rows of three lengths mixed in every batch: each batch rents one result array per length and hands them back for
    /// the next batch, whose mix differs. Every row must still equal the row computed alone.
    /// </summary>
    [TestMethod]
    public void ReusedResultArrays_WithLengthsMixedAcrossBatches_GiveEachRowItsOwnValues()
    {
        var ml = new MLContext(1);
        int[] lengths = [3000, 5200, 1700];
        var rows = Enumerable.Range(0, 40).Select(i => new AudioRow { Id = i, Audio = AudioData.Noise(lengths[(i * i + i / 3) % 3], seed: 100 + i) }).ToArray();
        var data = ml.Data.Cache(AudioData.Load(ml, rows, dimensions: null, sampleRate: 16000));
        ITransformer model = ml.Transforms.Audio.GpuStft("Out", "Audio", new GpuStftOptions { FftLength = 256, BatchSize = 7 }).Fit(data);
        var batched = AudioData.Column(model.Transform(data), "Out");
        Assert.HasCount(rows.Length, batched);

        var mapper = model.GetRowToRowMapper(data.Schema);
        var outCol = mapper.OutputSchema["Out"];
        using var cursor = data.GetRowCursor(mapper.GetDependencies([outCol]));
        using var row = mapper.GetRow(cursor, [outCol]);
        var getter = row.GetGetter<VBuffer<float>>(outCol);
        var v = default(VBuffer<float>);
        for (int i = 0; cursor.MoveNext(); i++)
        {
            getter(ref v);
            CollectionAssert.AreEqual(v.DenseValues().ToArray(), batched[i], $"row {i} ({rows[i].Audio.Length} samples)");
        }
    }
}
