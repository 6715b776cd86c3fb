using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// 100,000 rows through the GPU transforms hold steady memory: every native tensor made for a batch is disposed
/// (TorchSharp's live-tensor count returns to where it was) and the process's resident memory stops growing.
/// </summary>
[TestClass]
public sealed class LongRunTests
{
    private const int Rows = 100_000, Samples = 1600; // 0.1 s at 16 kHz

    private sealed class Row
    {
        [VectorType(Samples)] public float[] Audio { get; set; } = [];
    }

    /// <summary>Rows made on the fly, so the input itself takes no memory.</summary>
    private static IEnumerable<Row> Stream(int count)
    {
        var rng = new Random(5);
        var row = new Row { Audio = new float[Samples] };
        for (int i = 0; i < count; i++)
        {
            for (int t = 0; t < Samples; t++) row.Audio[t] = (float)(rng.NextDouble() - 0.5);
            yield return row;
        }
    }

    private static void Settle()
    {
        for (int i = 0; i < 3; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
    }

    [TestMethod]
    public void HundredThousandRows_LeakNoTensors_AndMemoryStaysFlat()
    {
        var ml = new MLContext(1);
        var definition = SchemaDefinition.Create(typeof(Row));
        definition[nameof(Row.Audio)].AddAnnotation(AudioAnnotationKinds.SampleRate, 16000, NumberDataViewType.Int32);
        var data = ml.Data.LoadFromEnumerable(Stream(Rows), definition);
        var model = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio", new MelSpectrogramOptions { FftLength = 256, HopLength = 160, MelBinCount = 40 })
            .Append(ml.Transforms.Audio.GpuDecibel("Again", "Mel", new GpuDecibelOptions { Power = 2 }))
            .Fit(data);
        var output = model.Transform(data);

        var process = Process.GetCurrentProcess();
        long rssAt20k = 0, rows = 0, tensorsBefore = 0;
        double checksum = 0;
        var col = output.Schema["Again"];
        using (var cursor = output.GetRowCursor([col]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(col);
            var v = default(VBuffer<float>);
            while (cursor.MoveNext())
            {
                getter(ref v);
                checksum += v.GetValues()[0];
                if (++rows == 1_000)
                {
                    // Warm: the modules exist now. Tensors that earlier tests left to the finaliser are collected first.
                    Settle();
                    tensorsBefore = TorchSharp.torch.Tensor.TotalCount;
                }
                if (rows == 20_000)
                {
                    GC.Collect(); GC.WaitForPendingFinalizers();
                    process.Refresh();
                    rssAt20k = process.WorkingSet64;
                }
            }
        }
        Settle();
        process.Refresh();
        long rssAtEnd = process.WorkingSet64;
        long leaked = TorchSharp.torch.Tensor.TotalCount - tensorsBefore;
        Console.WriteLine($"{rows} rows; resident memory {rssAt20k / 1048576.0:F0} MiB at 20k rows, {rssAtEnd / 1048576.0:F0} MiB at {rows}; " +
                          $"peak working set {process.PeakWorkingSet64 / 1048576.0:F0} MiB; live tensors {leaked:+#;-#;0} (checksum {checksum:F1})");
        Assert.AreEqual(Rows, rows);
        // Not above: every tensor made for a batch after the first 1,000 rows is disposed. (It can end below, when
        // tensors that other tests' objects held are finalised meanwhile.)
        Assert.IsLessThanOrEqualTo(0L, leaked, $"{leaked} tensors made while processing rows are still alive");
        Assert.IsLessThan(64L * 1048576, rssAtEnd - rssAt20k, $"resident memory grew by {(rssAtEnd - rssAt20k) / 1048576.0:F0} MiB over 80,000 rows");
    }
}
