using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Training;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>A model zip whose weights do not fit its settings fails to load with a clear error, never a crash.</summary>
[TestClass]
public sealed class ModelFileTests
{
    private static byte[] _zip = [];

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        var ml = new MLContext(1);
        var clips = AudioClassificationTrainerTests.Clips(4, 1);
        var data = ml.Data.LoadFromEnumerable(clips);
        var options = new AudioClassificationOptions { FeatureColumnName = nameof(AudioClassificationTrainerTests.Clip.Audio), Epochs = 1, BatchSize = 8,
            FrontEnd = new Microsoft.ML.Audio.Gpu.Transforms.MelSpectrogramOptions { SampleRate = 8000, FftLength = 256, HopLength = 64, MelBinCount = 32, MaxFrequency = 4000 } };
        var model = ml.Transforms.Conversion.MapValueToKey("Label", nameof(AudioClassificationTrainerTests.Clip.Word))
            .Append(ml.MulticlassClassification.Trainers.AudioClassification(options)).Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        _zip = stream.ToArray();
    }

    /// <summary>The model zip with its weights stream replaced by <paramref name="edit"/> of the original bytes.</summary>
    private static MemoryStream WithWeights(Func<byte[], byte[]> edit)
    {
        var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(_zip)))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var entry in source.Entries)
            {
                using var read = entry.Open();
                var bytes = new MemoryStream();
                read.CopyTo(bytes);
                var content = entry.FullName.EndsWith("Weights.bin") ? edit(bytes.ToArray()) : bytes.ToArray();
                using var write = target.CreateEntry(entry.FullName).Open();
                write.Write(content);
            }
        output.Position = 0;
        return output;
    }

    private static Exception LoadFails(Stream zip)
    {
        var ml = new MLContext(1);
        var e = Assert.Throws<Exception>(() => ml.Model.Load(zip, out _));
        Assert.IsNotInstanceOfType<NullReferenceException>(e);
        return e;
    }

    private static string AllMessages(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + AllMessages(e.InnerException);

    [TestMethod]
    public void Intact_Loads()
    {
        var loaded = new MLContext(1).Model.Load(new MemoryStream(_zip), out _);
        Assert.IsNotNull(loaded);
    }

    [TestMethod]
    public void TruncatedWeights_FailWithAClearError()
    {
        var e = LoadFails(WithWeights(b => b[..(b.Length / 2)]));
        StringAssert.Contains(AllMessages(e), "weights");
    }

    [TestMethod]
    public void WeightsWithAnotherShape_FailNamingTheTensor()
    {
        // The first tensor's first dimension is the 8 bytes after: int count, string name (1-byte length + UTF-8), byte type, int rank.
        var e = LoadFails(WithWeights(b =>
        {
            var copy = (byte[])b.Clone();
            int nameLength = copy[4];
            int dims = 4 + 1 + nameLength + 1 + 4;
            BitConverter.GetBytes((long)1 << 31).CopyTo(copy, dims); // a declared dimension of 2^31
            return copy;
        }));
        StringAssert.Contains(AllMessages(e), "the network needs");
    }

    [TestMethod]
    public void WeightsOfAnotherNetwork_FailCountingTensors()
    {
        var e = LoadFails(WithWeights(b => { var copy = (byte[])b.Clone(); BitConverter.GetBytes(3).CopyTo(copy, 0); return copy; }));
        StringAssert.Contains(AllMessages(e), "tensors");
    }
}
