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
    private static MemoryStream WithWeights(Func<byte[], byte[]> edit) => Edit(_zip, "Weights.bin", edit);

    /// <summary><paramref name="zip"/> with the entries whose name ends with <paramref name="suffix"/> edited.</summary>
    internal static MemoryStream Edit(byte[] zip, string suffix, Func<byte[], byte[]> edit)
    {
        var output = new MemoryStream();
        using (var source = new ZipArchive(new MemoryStream(zip)))
        using (var target = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var entry in source.Entries)
            {
                using var read = entry.Open();
                var bytes = new MemoryStream();
                read.CopyTo(bytes);
                var content = entry.FullName.EndsWith(suffix) ? edit(bytes.ToArray()) : bytes.ToArray();
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

    /// <summary>Marks the model block with this 8-character signature as written by a future version (2.1).</summary>
    internal static byte[] FutureVersion(byte[] modelKey, string signature)
    {
        if (System.Text.Encoding.ASCII.GetString(modelKey, 0x40, 8) != signature) return modelKey;
        var copy = (byte[])modelKey.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(0x48), 0x00020001); // version written
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(0x4C), 0x00020001); // version readable
        return copy;
    }

    [TestMethod]
    public void ModelFromAFutureVersion_FailsToLoad_SayingSo()
    {
        var e = LoadFails(Edit(_zip, "Model.key", key => FutureVersion(key, "AUDCLASS")));
        StringAssert.Contains(AllMessages(e).ToLowerInvariant(), "version");
    }

    [TestMethod]
    public void WeightsOfAnotherNetwork_FailCountingTensors()
    {
        var e = LoadFails(WithWeights(b => { var copy = (byte[])b.Clone(); BitConverter.GetBytes(3).CopyTo(copy, 0); return copy; }));
        StringAssert.Contains(AllMessages(e), "tensors");
    }
}

/// <summary>The same for the transforms' model blocks: future versions and cut-off settings fail clearly.</summary>
[TestClass]
public sealed class TransformModelFileTests
{
    private static byte[] SavedMelSpectrogram()
    {
        var ml = new MLContext(1);
        var data = Infrastructure.AudioData.Load(ml, Infrastructure.AudioData.NoiseRows(2, 2000), [2000], 16000);
        var model = ml.Transforms.Audio.MelSpectrogramGpu("Mel", "Audio").Fit(data);
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        return stream.ToArray();
    }

    [TestMethod]
    public void MelSpectrogramFromAFutureVersion_FailsToLoad_SayingSo()
    {
        var zip = ModelFileTests.Edit(SavedMelSpectrogram(), "Model.key", key => ModelFileTests.FutureVersion(key, "GPUMELSP"));
        var e = Assert.Throws<Exception>(() => new MLContext(1).Model.Load(zip, out _));
        Assert.IsNotInstanceOfType<NullReferenceException>(e);
        StringAssert.Contains(e.ToString().ToLowerInvariant(), "version");
    }

    [TestMethod]
    public void MelSpectrogramWithATruncatedFilterbank_FailsToLoad_NamingIt()
    {
        var zip = ModelFileTests.Edit(SavedMelSpectrogram(), "Filterbank.bin", b => b[..(b.Length / 3)]);
        var e = Assert.Throws<Exception>(() => new MLContext(1).Model.Load(zip, out _));
        Assert.IsNotInstanceOfType<NullReferenceException>(e);
    }

    [TestMethod]
    public void MelSpectrogramWithAFilterbankOfAnotherShape_FailsToLoad_SayingWhich()
    {
        var zip = ModelFileTests.Edit(SavedMelSpectrogram(), "Filterbank.bin", b =>
        {
            var copy = (byte[])b.Clone();
            BitConverter.GetBytes(int.MaxValue).CopyTo(copy, 0); // rows: 2^31 - 1
            return copy;
        });
        var e = Assert.Throws<Exception>(() => new MLContext(1).Model.Load(zip, out _));
        StringAssert.Contains(e.ToString(), "filterbank is [2147483647");
    }
}
