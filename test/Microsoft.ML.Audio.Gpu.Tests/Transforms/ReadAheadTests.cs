using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.IO;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// Read-ahead (on by default for a CUDA device): a transform's cursor reads the next batch's rows from its input on a
/// worker thread while the current batch is computed, so that decoding upstream overlaps the device's work. Run here on
/// the CPU by forcing it on: the rows, their order, ids and errors are those of the plain cursor, the next batch really
/// is read during the compute, and failures of the input and early disposal behave as without it.
/// </summary>
[TestClass]
public sealed class ReadAheadTests
{
    public sealed class FileRow
    {
        public string Path { get; set; } = "";
    }

    [TestMethod]
    public void GpuDefault_ReadsAhead_CpuDefault_DoesNot()
    {
        Assert.IsTrue(TorchDevices.ReadsAhead(new TorchSharp.torch.Device("cuda:0")));
        Assert.IsFalse(TorchDevices.ReadsAhead(new TorchSharp.torch.Device("cpu")));
        Assert.IsTrue(TorchDevices.ReadsAhead(new TorchSharp.torch.Device("cpu"), requested: true));
    }

    [TestMethod]
    public void ReadAhead_GivesTheRowsInOrder_WithTheirIdsAndErrors()
    {
        var dir = Directory.CreateTempSubdirectory("read-ahead-");
        try
        {
            // 11 files, two of them broken, in batches of 3: the last batch is short.
            var rows = new List<FileRow>();
            for (int i = 0; i < 11; i++)
            {
                string path = Path.Combine(dir.FullName, $"clip{i}.wav");
                if (i is 4 or 9) File.WriteAllText(path, "not audio");
                else
                {
                    var noise = AudioData.Noise(1200 + 100 * i, i + 1);
                    var signal = new double[noise.Length, 1];
                    for (int t = 0; t < noise.Length; t++) signal[t, 0] = noise[t];
                    File.WriteAllBytes(path, WavBuilder.For(signal, 8000, SampleFormat.Float32).ToBytes());
                }
                rows.Add(new FileRow { Path = path });
            }
            var ml = new MLContext(1);
            var files = ml.Data.LoadFromEnumerable(rows);
            var model = ml.Transforms.Audio.LoadAudio("Audio", nameof(FileRow.Path), new LoadAudioOptions { SampleRate = 8000 })
                .Append(ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20, BatchSize = 3 }))
                .Fit(files);
            var mel = (MelSpectrogramGpuTransformer)model.LastTransformer;

            mel.ReadAhead = false;
            var plain = ReadAll(model.Transform(files));
            mel.ReadAhead = true;
            var ahead = ReadAll(model.Transform(files));

            Assert.HasCount(11, plain);
            Assert.HasCount(plain.Count, ahead);
            for (int i = 0; i < plain.Count; i++)
            {
                Assert.AreEqual(plain[i].Path, ahead[i].Path, $"row {i}: order");
                Assert.AreEqual(plain[i].Id, ahead[i].Id, $"row {i}: id");
                Assert.AreEqual(i, ahead[i].Position, $"row {i}: position");
                Assert.AreEqual(plain[i].Error, ahead[i].Error, $"row {i}: error");
                CollectionAssert.AreEqual(plain[i].LogMel, ahead[i].LogMel, $"row {i}: values");
            }
            Assert.IsNotNull(ahead[4].Error, "a broken file keeps its error");
            StringAssert.Contains(ahead[4].Error, "clip4.wav");
            Assert.IsNull(ahead[5].Error, "the rows after it are computed");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private sealed record ReadRow(long Position, string Path, DataViewRowId Id, float[]? LogMel, string? Error);

    private static List<ReadRow> ReadAll(IDataView data)
    {
        var result = new List<ReadRow>();
        using var cursor = data.GetRowCursor(data.Schema);
        var path = cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema["Path"]);
        var logMel = cursor.GetGetter<VBuffer<float>>(data.Schema["LogMel"]);
        var id = cursor.GetIdGetter();
        while (cursor.MoveNext())
        {
            ReadOnlyMemory<char> p = default;
            path(ref p);
            DataViewRowId rowId = default;
            id(ref rowId);
            VBuffer<float> value = default;
            string? error = null;
            float[]? values = null;
            try
            {
                logMel(ref value);
                values = value.DenseValues().ToArray();
            }
            catch (Exception e) when (e is not AssertFailedException)
            {
                error = e.Message;
            }
            result.Add(new ReadRow(cursor.Position, p.ToString(), rowId, values, error));
        }
        return result;
    }

    /// <summary>Rows that record when the input cursor reaches them; <paramref name="failAt"/> throws there instead.</summary>
    private sealed class Source(int rows, int failAt = -1)
    {
        public readonly ManualResetEventSlim[] Reached = [.. Enumerable.Range(0, rows).Select(_ => new ManualResetEventSlim())];

        public IEnumerable<AudioRow> Rows()
        {
            for (int i = 0; i < rows; i++)
            {
                if (i == failAt) throw new InvalidOperationException($"the input cannot give row {i}");
                Reached[i].Set();
                yield return new AudioRow { Id = i, Audio = [i, i + 0.5f] };
            }
        }
    }

    private sealed class Unsaved : ICanSaveModel
    {
        public void Save(ModelSaveContext ctx) => throw new NotSupportedException();
    }

    /// <summary>A batching view over <paramref name="source"/> whose compute doubles the values after
    /// <paramref name="duringCompute"/> ran for the batch's first position and row count.</summary>
    private static IDataView View(MLContext ml, Source source, bool readAhead, Action<long, int> duringCompute)
    {
        var input = ml.Data.LoadFromEnumerable(source.Rows(), SchemaDefinition.Create(typeof(AudioRow)));
        var output = new DataViewSchema.DetachedColumn("Out", new VectorDataViewType(NumberDataViewType.Single, 2));
        return new BatchingDataView<VBuffer<float>>(input, "Audio", output, 3, (inputs, positions, count, results, _) =>
        {
            duringCompute(positions[0], count);
            for (int k = 0; k < count; k++)
            {
                var doubled = inputs[k].DenseValues().Select(v => 2 * v).ToArray();
                results[k] = new RowResult(doubled, 0, doubled.Length, null);
            }
        }, new NoOnnxStep(new Unsaved()), readAhead);
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void TheNextBatch_IsRead_WhileThisOneIsComputed_OnlyWithReadAhead(bool readAhead)
    {
        var ml = new MLContext(1);
        var source = new Source(10);
        var overlapped = new List<bool>();
        var data = View(ml, source, readAhead, (first, count) =>
        {
            long next = first + count;
            // With read-ahead the worker reaches the next batch's first row while this batch computes (it has nothing
            // else to wait for); without it nothing reads until the compute returns, so the row is not reached yet.
            if (next < 10) overlapped.Add(source.Reached[next].Wait(readAhead ? TimeSpan.FromSeconds(30) : TimeSpan.Zero));
        });
        var values = new List<float>();
        using (var cursor = data.GetRowCursor(data.Schema))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(data.Schema["Out"]);
            var id = cursor.GetGetter<int>(data.Schema["Id"]);
            VBuffer<float> v = default;
            int rowId = 0;
            while (cursor.MoveNext())
            {
                getter(ref v);
                id(ref rowId);
                Assert.AreEqual(2f * rowId, v.GetValues()[0], $"row {cursor.Position}");
                values.Add(v.GetValues()[0]);
            }
        }
        CollectionAssert.AreEqual(Enumerable.Range(0, 10).Select(i => 2f * i).ToArray(), values.ToArray(), "every row, in order");
        CollectionAssert.AreEqual(Enumerable.Repeat(readAhead, 3).ToArray(), overlapped.ToArray(),
            "whether the next batch's first row was read during each of the first three batches' compute");
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void AnInputFailure_SurfacesWhenItsRowIsReached_AndEarlierRowsAreGiven(bool readAhead)
    {
        var ml = new MLContext(1);
        var data = View(ml, new Source(10, failAt: 7), readAhead, (_, _) => { });
        using var cursor = data.GetRowCursor(data.Schema);
        var getter = cursor.GetGetter<VBuffer<float>>(data.Schema["Out"]);
        VBuffer<float> v = default;
        for (int i = 0; i < 6; i++)
        {
            Assert.IsTrue(cursor.MoveNext(), $"row {i}");
            getter(ref v);
            Assert.AreEqual(2f * i, v.GetValues()[0]);
        }
        // Row 6 is in the batch (6, 7, 8) whose reading failed at row 7.
        var e = Assert.Throws<InvalidOperationException>(() => cursor.MoveNext());
        StringAssert.Contains(e.Message, "cannot give row 7");
    }

    [TestMethod]
    public void DisposingWhileTheNextBatchIsRead_WaitsForTheRead()
    {
        var ml = new MLContext(1);
        var source = new Source(10);
        var data = View(ml, source, readAhead: true, (_, _) => { });
        var cursor = data.GetRowCursor(data.Schema);
        Assert.IsTrue(cursor.MoveNext());
        cursor.Dispose(); // a read of rows 3-5 may be in flight on the worker: Dispose waits for it, then disposes the input
        Assert.IsTrue(source.Reached[5].IsSet, "the read in flight finished before the input was disposed");
    }
}
