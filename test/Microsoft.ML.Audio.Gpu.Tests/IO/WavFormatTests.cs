using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>Every supported WAV encoding, written by the test's own writer, decodes to the exact stored values.</summary>
[TestClass]
public sealed class WavFormatTests
{
    /// <summary>A 32-bit integer divided by 2^31 and rounded to float keeps 24 significant bits: error up to 2^-25.</summary>
    private const double Int32ToFloatRounding = 1.0 / (1 << 25);

    /// <summary>Exactly representable: 8/16/24-bit integers over a power of two, and float32 data, are exact in float.</summary>
    private const double Exact = 0;

    private static readonly AudioDecodeOptions KeepAll = new() { Mono = false };

    private static double Tolerance(SampleFormat format) => format == SampleFormat.Pcm32 ? Int32ToFloatRounding : Exact;

    private static void AssertDecodesExactly(double[,] signal, SampleFormat format, AudioBuffer decoded, int rate)
    {
        int frames = signal.GetLength(0), channels = signal.GetLength(1);
        Assert.AreEqual(channels, decoded.Channels, "channels");
        Assert.AreEqual(frames, decoded.Frames, "frames");
        Assert.AreEqual(rate, decoded.SampleRate, "sample rate");
        Assert.AreEqual(channels * frames, decoded.Samples.Length, "samples");
        double tolerance = Tolerance(format);
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < frames; i++)
            {
                double expected = WavBuilder.Expected(signal[i, c], format);
                double actual = decoded.Samples[c * frames + i];
                if (Math.Abs(actual - expected) > tolerance)
                    Assert.Fail($"{format}: frame {i}, channel {c}: expected {expected:R}, got {actual:R}");
            }
        }
    }

    [TestMethod]
    [DataRow(SampleFormat.Pcm8, 1, false)]
    [DataRow(SampleFormat.Pcm8, 2, false)]
    [DataRow(SampleFormat.Pcm16, 1, false)]
    [DataRow(SampleFormat.Pcm16, 2, false)]
    [DataRow(SampleFormat.Pcm16, 6, false)]
    [DataRow(SampleFormat.Pcm24, 1, false)]
    [DataRow(SampleFormat.Pcm24, 3, false)]
    [DataRow(SampleFormat.Pcm32, 2, false)]
    [DataRow(SampleFormat.Float32, 1, false)]
    [DataRow(SampleFormat.Float32, 5, false)]
    [DataRow(SampleFormat.Float64, 2, false)]
    [DataRow(SampleFormat.Pcm8, 2, true)]
    [DataRow(SampleFormat.Pcm16, 2, true)]
    [DataRow(SampleFormat.Pcm16, 8, true)]
    [DataRow(SampleFormat.Pcm24, 2, true)]
    [DataRow(SampleFormat.Pcm32, 4, true)]
    [DataRow(SampleFormat.Float32, 2, true)]
    [DataRow(SampleFormat.Float64, 1, true)]
    public void Decode_ReturnsStoredValuesPlanar_ForEachEncodingAndChannelCount(SampleFormat format, int channels, bool extensible)
    {
        const int rate = 22050, frames = 3001; // odd length: no block size divides it
        var signal = Signals.MultiChannel(frames, channels, rate);
        var bytes = WavBuilder.For(signal, rate, format, extensible).ToBytes();

        var decoded = AudioDecoder.Decode(bytes, "test.wav", KeepAll);

        AssertDecodesExactly(signal, format, decoded, rate);
    }

    [TestMethod]
    [DataRow(SampleFormat.Pcm8, 8)]
    [DataRow(SampleFormat.Pcm16, 16)]
    [DataRow(SampleFormat.Pcm24, 24)]
    [DataRow(SampleFormat.Pcm32, 32)]
    public void Decode_ScalesIntegerPcmByTwoToTheBitsMinusOne_AndKeepsItWithinMinusOneToOne(SampleFormat format, int bits)
    {
        // The extreme codes: most negative, -1, 0, 1, most positive.
        double lsb = Math.Pow(2, 1 - bits);
        double[] values = [-1.0, -lsb, 0, lsb, 1 - lsb];
        var signal = new double[values.Length, 1];
        for (int i = 0; i < values.Length; i++) signal[i, 0] = values[i];

        var decoded = AudioDecoder.Decode(WavBuilder.For(signal, 8000, format).ToBytes(), "extremes.wav", KeepAll);

        for (int i = 0; i < values.Length; i++)
            Assert.AreEqual(values[i], decoded.Samples[i], format == SampleFormat.Pcm32 ? Int32ToFloatRounding : Exact, $"code {i}");
        Assert.IsTrue(decoded.Samples.All(s => s >= -1f && s <= 1f));
    }

    [TestMethod]
    [DataRow(SampleFormat.MuLaw, false)]
    [DataRow(SampleFormat.ALaw, false)]
    [DataRow(SampleFormat.MuLaw, true)]
    [DataRow(SampleFormat.ALaw, true)]
    public void Decode_MatchesItuG711ForAll256Codes(SampleFormat format, bool extensible)
    {
        var builder = WavBuilder.For(new double[0, 1], 8000, format, extensible);
        builder.Data = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        var decoded = AudioDecoder.Decode(builder.ToBytes(), "g711.wav", KeepAll);

        Assert.AreEqual(256, decoded.Frames);
        for (int b = 0; b < 256; b++)
        {
            short linear = format == SampleFormat.MuLaw ? G711Reference.MuLaw((byte)b) : G711Reference.ALaw((byte)b);
            Assert.AreEqual(linear / 32768.0, decoded.Samples[b], Exact, $"code 0x{b:X2}");
        }
    }

    [TestMethod]
    public void Decode_ReadsRf64_WithTheDataSizeFromDs64()
    {
        var signal = Signals.MultiChannel(1000, 2, 16000);
        var builder = WavBuilder.For(signal, 16000, SampleFormat.Pcm16);
        builder.Rf64 = true;

        AssertDecodesExactly(signal, SampleFormat.Pcm16, AudioDecoder.Decode(builder.ToBytes(), "rf64.wav", KeepAll), 16000);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public void Decode_SkipsOtherChunks_IncludingOddSizedOnesWithTheirPadByte(bool seekable)
    {
        var signal = Signals.MultiChannel(777, 2, 8000);
        var builder = WavBuilder.For(signal, 8000, SampleFormat.Pcm24);
        builder.ChunksBeforeFormat.Add(("JUNK", new byte[28]));
        builder.ChunksBeforeData.Add(("LIST", "INFOISFT\x05\0\0\0sox!\0"u8.ToArray())); // 17 bytes: padded to 18
        builder.ChunksBeforeData.Add(("fact", BitConverter.GetBytes(777)));
        builder.ChunksAfterData.Add(("id3 ", new byte[101]));
        using var stream = new ProbeStream(new MemoryStream(builder.ToBytes()), canSeek: seekable);

        AssertDecodesExactly(signal, SampleFormat.Pcm24, AudioDecoder.Decode(stream, "chunks.wav", KeepAll), 8000);
    }

    [TestMethod]
    public void Decode_ToleratesAnOddChunkWithoutItsPadByte_AsNAudioDoes()
    {
        var signal = Signals.MultiChannel(100, 1, 8000);
        var builder = WavBuilder.For(signal, 8000, SampleFormat.Pcm16);
        var bytes = builder.ToBytes();
        // Insert a 3-byte chunk with no pad byte between fmt and data.
        int dataAt = IndexOf(bytes, "data"u8);
        byte[] odd = [.. "abcd"u8, 3, 0, 0, 0, 1, 2, 3];
        bytes = [.. bytes[..dataAt], .. odd, .. bytes[dataAt..]];

        AssertDecodesExactly(signal, SampleFormat.Pcm16, AudioDecoder.Decode(bytes, "nopad.wav", KeepAll), 8000);
    }

    [TestMethod]
    public void Decode_ReadsADataChunkThatPrecedesFmt_WhenTheSourceCanSeek()
    {
        var signal = Signals.MultiChannel(500, 2, 8000);
        var builder = WavBuilder.For(signal, 8000, SampleFormat.Pcm16);
        builder.DataBeforeFormat = true;

        AssertDecodesExactly(signal, SampleFormat.Pcm16, AudioDecoder.Decode(builder.ToBytes(), "datafirst.wav", KeepAll), 8000);
    }

    [TestMethod]
    [DataRow(0u, true)]
    [DataRow(0xFFFFFFFFu, true)]
    [DataRow(0x7FFFF000u, true)]
    [DataRow(0u, false)]
    [DataRow(0xFFFFFFFFu, false)]
    [DataRow(0x7FFFF000u, false)]
    public void Decode_ReadsToTheEnd_WhenTheDataSizeIsAStreamingPlaceholder(uint placeholder, bool seekable)
    {
        var signal = Signals.MultiChannel(1234, 2, 8000);
        var builder = WavBuilder.For(signal, 8000, SampleFormat.Pcm16);
        builder.DataSize = placeholder;
        builder.RiffSize = placeholder;
        using var stream = new ProbeStream(new MemoryStream(builder.ToBytes()), canSeek: seekable, maxRead: 1000);

        AssertDecodesExactly(signal, SampleFormat.Pcm16, AudioDecoder.Decode(stream, "placeholder.wav", KeepAll), 8000);
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void Decode_IgnoresThePadByteAfterOddSizedData_WhenTheSizeIsAPlaceholder(bool seekable)
    {
        var signal = Signals.MultiChannel(101, 3, 8000); // 303 bytes of 8-bit audio, then the RIFF pad byte
        var builder = WavBuilder.For(signal, 8000, SampleFormat.Pcm8);
        builder.DataSize = uint.MaxValue;
        var bytes = builder.ToBytes();
        Assert.AreEqual(44 + 303 + 1, bytes.Length);
        using var stream = new ProbeStream(new MemoryStream(bytes), canSeek: seekable);

        AssertDecodesExactly(signal, SampleFormat.Pcm8, AudioDecoder.Decode(stream, "odd.wav", KeepAll), 8000);
    }

    [TestMethod]
    public void Decode_IgnoresBytesAfterTheDeclaredData()
    {
        var signal = Signals.MultiChannel(300, 1, 8000);
        var builder = WavBuilder.For(signal, 8000, SampleFormat.Pcm16);
        byte[] bytes = [.. builder.ToBytes(), .. new byte[] { 1, 2, 3 }]; // trailing junk, not a chunk

        AssertDecodesExactly(signal, SampleFormat.Pcm16, AudioDecoder.Decode(bytes, "trailing.wav", KeepAll), 8000);
    }

    [TestMethod]
    public void Decode_ReturnsNoFrames_ForAValidFileWithEmptyData()
    {
        var builder = WavBuilder.For(new double[0, 2], 8000, SampleFormat.Pcm16);

        var decoded = AudioDecoder.Decode(builder.ToBytes(), "empty-data.wav", KeepAll);

        Assert.AreEqual(0, decoded.Frames);
        Assert.AreEqual(2, decoded.Channels);
    }

    internal static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle);
}
