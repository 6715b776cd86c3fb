using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>The decoder's options (mono, fixed length, rate) and its three entry points.</summary>
[TestClass]
public sealed class AudioDecoderTests
{
    /// <summary>The mean of C exact float sums, divided by C in float: one rounding, 2^-24 relative.</summary>
    private const double MixdownRounding = 1.0 / (1 << 24);

    private static readonly AudioDecodeOptions KeepAll = new() { Mono = false };

    private static byte[] Wav(double[,] signal, int rate, SampleFormat format = SampleFormat.Pcm16)
        => WavBuilder.For(signal, rate, format).ToBytes();

    [TestMethod]
    [DataRow(2)]
    [DataRow(3)]
    [DataRow(6)]
    public void Decode_MixesDownToTheAverageOfTheChannels_ByDefault(int channels)
    {
        var signal = Signals.MultiChannel(2000, channels, 16000);

        var mono = AudioDecoder.Decode(Wav(signal, 16000), "mix.wav", new AudioDecodeOptions());

        Assert.AreEqual(1, mono.Channels);
        Assert.AreEqual(2000, mono.Frames);
        for (int i = 0; i < 2000; i++)
        {
            double mean = Enumerable.Range(0, channels).Average(c => WavBuilder.Expected(signal[i, c], SampleFormat.Pcm16));
            Assert.AreEqual(mean, mono.Samples[i], Math.Abs(mean) * MixdownRounding, $"frame {i}");
        }
    }

    [TestMethod]
    public void Decode_LaysChannelsOutPlanar_EachChannelAContiguousRow()
    {
        // Channel c holds the constant (c + 1) / 8 (exact in 16-bit), so any interleaving mistake shows.
        var signal = new double[100, 4];
        for (int i = 0; i < 100; i++)
            for (int c = 0; c < 4; c++)
                signal[i, c] = (c + 1) / 8.0;

        var decoded = AudioDecoder.Decode(Wav(signal, 8000), "planar.wav", KeepAll);

        for (int c = 0; c < 4; c++)
        {
            CollectionAssert.AreEqual(Enumerable.Repeat((c + 1) / 8f, 100).ToArray(), decoded.Samples[(c * 100)..((c + 1) * 100)], $"channel {c}");
            CollectionAssert.AreEqual(decoded.Samples[(c * 100)..((c + 1) * 100)], decoded.GetChannel(c).ToArray());
        }
    }

    [TestMethod]
    [DataRow(true, null)]
    [DataRow(false, null)]
    [DataRow(true, 16000)]
    [DataRow(false, 22050)]
    public void Decode_PadsWithZerosAtTheEnd_WhenTheFileIsShorterThanTheDuration(bool mono, int? rate)
    {
        var bytes = Wav(Signals.MultiChannel(4000, 2, 8000), 8000); // 0.5 s
        var whole = AudioDecoder.Decode(bytes, "short.wav", new AudioDecodeOptions { Mono = mono, SampleRate = rate });

        var padded = AudioDecoder.Decode(bytes, "short.wav", new AudioDecodeOptions { Mono = mono, SampleRate = rate, DurationSeconds = 1.25 });

        int outRate = rate ?? 8000, frames = (int)Math.Round(1.25 * outRate);
        Assert.AreEqual(frames, padded.Frames);
        Assert.AreEqual(whole.Channels, padded.Channels);
        for (int c = 0; c < padded.Channels; c++)
        {
            CollectionAssert.AreEqual(whole.GetChannel(c).ToArray(), padded.GetChannel(c)[..whole.Frames].ToArray(), $"channel {c}");
            Assert.IsTrue(padded.GetChannel(c)[whole.Frames..].ToArray().All(x => x == 0f), $"channel {c} padding");
        }
    }

    [TestMethod]
    [DataRow(true, null)]
    [DataRow(false, null)]
    [DataRow(true, 16000)]
    [DataRow(false, 16000)]
    [DataRow(true, 11025)]
    public void Decode_CropsToTheExactBeginningOfTheWholeDecode_WhenTheFileIsLonger(bool mono, int? rate)
    {
        var bytes = Wav(Signals.MultiChannel(44100, 2, 44100), 44100);
        var whole = AudioDecoder.Decode(bytes, "long.wav", new AudioDecodeOptions { Mono = mono, SampleRate = rate });

        var cropped = AudioDecoder.Decode(bytes, "long.wav", new AudioDecodeOptions { Mono = mono, SampleRate = rate, DurationSeconds = 0.3 });

        int frames = (int)Math.Round(0.3 * (rate ?? 44100));
        Assert.AreEqual(frames, cropped.Frames);
        for (int c = 0; c < cropped.Channels; c++)
            CollectionAssert.AreEqual(whole.GetChannel(c)[..frames].ToArray(), cropped.GetChannel(c).ToArray(), $"channel {c}");
    }

    [TestMethod]
    [DataRow(0.1, 16000, 1600)]
    [DataRow(1.0 / 3, 16000, 5333)]
    [DataRow(2.5 / 16000, 16000, 2)]  // Math.Round: halves to even
    [DataRow(3.5 / 16000, 16000, 4)]
    [DataRow(1.0, 44100, 44100)]
    [DataRow(0.00003, 16000, 0)]      // rounds to no frames at all
    public void Decode_ReturnsExactlyRoundDurationTimesOutputRateFrames(double seconds, int rate, int expectedFrames)
    {
        var bytes = Wav(Signals.MultiChannel(8000, 1, 8000), 8000);

        var decoded = AudioDecoder.Decode(bytes, "len.wav", new AudioDecodeOptions { SampleRate = rate, DurationSeconds = seconds });

        Assert.AreEqual(expectedFrames, decoded.Frames);
        Assert.AreEqual((int)Math.Round(seconds * rate), decoded.Frames);
    }

    [TestMethod]
    public void Decode_KeepsTheFileRate_WhenSampleRateIsNullOrEqual()
    {
        var signal = Signals.MultiChannel(1000, 1, 22050);
        var bytes = Wav(signal, 22050);

        var kept = AudioDecoder.Decode(bytes, "rate.wav", new AudioDecodeOptions());
        var same = AudioDecoder.Decode(bytes, "rate.wav", new AudioDecodeOptions { SampleRate = 22050 });

        Assert.AreEqual(22050, kept.SampleRate);
        for (int i = 0; i < 1000; i++)
            Assert.AreEqual(WavBuilder.Expected(signal[i, 0], SampleFormat.Pcm16), kept.Samples[i]);
        CollectionAssert.AreEqual(kept.Samples, same.Samples);
    }

    [TestMethod]
    [DataRow(true, null, null)]
    [DataRow(false, 16000, null)]
    [DataRow(true, 16000, 0.2)]
    [DataRow(false, null, 2.0)]
    public void Decode_GivesTheSameSamples_FromAPathBytesASeekableStreamAndAForwardOnlyStream(bool mono, int? rate, double? seconds)
    {
        using var folder = new TempFolder();
        var bytes = Wav(Signals.MultiChannel(12345, 3, 44100), 44100, SampleFormat.Pcm24);
        var path = folder.Write("same.wav", bytes);
        var options = new AudioDecodeOptions { Mono = mono, SampleRate = rate, DurationSeconds = seconds };

        var fromPath = AudioDecoder.Decode(path, options);
        var fromBytes = AudioDecoder.Decode(bytes, "same.wav", options);
        using var seekable = File.OpenRead(path);
        var fromStream = AudioDecoder.Decode(seekable, "same.wav", options);
        using var forwardOnly = new ProbeStream(File.OpenRead(path), canSeek: false, maxRead: 333);
        var fromForwardOnly = AudioDecoder.Decode(forwardOnly, "same.wav", options);

        foreach (var other in new[] { fromBytes, fromStream, fromForwardOnly })
        {
            Assert.AreEqual(fromPath.Channels, other.Channels);
            Assert.AreEqual(fromPath.SampleRate, other.SampleRate);
            CollectionAssert.AreEqual(fromPath.Samples, other.Samples);
        }
    }

    [TestMethod]
    public void Decode_ReadsAStreamFromItsCurrentPosition_AndLeavesItOpen()
    {
        var signal = Signals.MultiChannel(500, 1, 8000);
        byte[] prefix = [1, 2, 3, 4, 5, 6, 7];
        using var stream = new MemoryStream([.. prefix, .. Wav(signal, 8000)]);
        stream.Position = prefix.Length;

        var decoded = AudioDecoder.Decode(stream, "embedded.wav", KeepAll);

        Assert.AreEqual(500, decoded.Frames);
        Assert.AreEqual(WavBuilder.Expected(signal[42, 0], SampleFormat.Pcm16), decoded.Samples[42]);
        Assert.IsTrue(stream.CanRead, "the caller's stream is not disposed");
    }

    [TestMethod]
    public void Decode_ReadsBytesFromASliceOfALargerArray()
    {
        var signal = Signals.MultiChannel(300, 2, 8000);
        var wav = Wav(signal, 8000);
        byte[] buffer = [.. new byte[13], .. wav, .. new byte[29]];

        var decoded = AudioDecoder.Decode(buffer.AsMemory(13, wav.Length), "slice.wav", KeepAll);

        CollectionAssert.AreEqual(AudioDecoder.Decode(wav, "slice.wav", KeepAll).Samples, decoded.Samples);
    }

    [TestMethod]
    public void Decode_IsSafeToCallFromManyThreadsAtOnce()
    {
        var inputs = Enumerable.Range(0, 12).Select(i => Wav(Signals.MultiChannel(8000 + 997 * i, 1 + i % 3, 44100, seed: i), 44100)).ToArray();
        var options = Enumerable.Range(0, 12).Select(i => new AudioDecodeOptions
        {
            Mono = i % 2 == 0,
            SampleRate = i % 3 == 0 ? null : 16000 + 1000 * (i % 4),
            DurationSeconds = i % 4 == 0 ? 0.15 : null,
        }).ToArray();
        var sequential = inputs.Select((bytes, i) => AudioDecoder.Decode(bytes, $"t{i}.wav", options[i]).Samples).ToArray();

        var parallel = new float[48][];
        Parallel.For(0, 48, new ParallelOptions { MaxDegreeOfParallelism = 8 },
                     k => parallel[k] = AudioDecoder.Decode(inputs[k % 12], $"t{k % 12}.wav", options[k % 12]).Samples);

        for (int k = 0; k < 48; k++)
            CollectionAssert.AreEqual(sequential[k % 12], parallel[k], $"decode {k}");
    }
}
