using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>
/// The streaming front end against the offline layers on the whole signal: every chunking from one sample to the whole
/// signal gives the same frames, for every framing that can stream, for STFT, mel, decibel and MFCC stages.
/// </summary>
[TestClass]
public sealed class StreamingSpectrogramTests
{
    private static readonly float[] Signal = AudioData.Noise(5003, seed: 3);

    /// <summary>Chunk sizes: single samples, a prime, a hop, odd sizes, the whole signal, and random sizes.</summary>
    public static IEnumerable<object[]> Chunkings =>
        [["1"], ["7"], ["160"], ["511,2,999"], ["5003"], ["random"]];

    private static IEnumerable<int> Sizes(string chunking)
    {
        if (chunking == "random")
        {
            var rng = new Random(5);
            while (true) yield return rng.Next(0, 900); // empty chunks too
        }
        var sizes = chunking.Split(',').Select(int.Parse).ToArray();
        for (int i = 0; ; i++) yield return sizes[i % sizes.Length];
    }

    /// <summary>Pushes <see cref="Signal"/> in chunks, flushes, and returns every frame in order.</summary>
    private static Tensor Streamed(StreamingSpectrogram stream, string chunking, List<long>? framesAfter = null)
    {
        var parts = new List<Tensor>();
        int at = 0;
        foreach (int size in Sizes(chunking))
        {
            int n = Math.Min(size, Signal.Length - at);
            parts.Add(stream.Push(Signal.AsSpan(at, n)));
            at += n;
            framesAfter?.Add(stream.FramesReturned);
            if (at == Signal.Length) break;
        }
        parts.Add(stream.Flush());
        return cat(parts, 1);
    }

    private static void AssertSame(Tensor offline, Tensor streamed, string what)
    {
        Compare.Shape(streamed, offline.shape, what);
        var a = offline.is_complex() ? view_as_real(offline) : offline;
        var b = streamed.is_complex() ? view_as_real(streamed) : streamed;
        Compare.RelativeToMax(Compare.ToArray(b), Compare.ToArray(a), Tolerances.StreamingRel, what);
    }

    [TestMethod]
    [DynamicData(nameof(Chunkings))]
    public void Stft_EveryStreamableFraming_EqualsTheOfflineLayer(string chunking)
    {
        using var scope = NewDisposeScope();
        foreach (var (padding, mode) in new[]
        {
            (FramePadding.Center, PadMode.Reflect), (FramePadding.Center, PadMode.Constant), (FramePadding.NoCenter, PadMode.Reflect),
            (FramePadding.Valid, PadMode.Reflect), (FramePadding.PadBegin, PadMode.Reflect), (FramePadding.PadEnd, PadMode.Reflect),
            (FramePadding.PadBeginAndEnd, PadMode.Reflect),
        })
        {
            using var stft = AudioLayers.Stft(512, win_length: 400, hop_length: 160, padding: padding, pad_mode: mode, output: SpectrumType.Complex);
            using var stream = StreamingSpectrogram.For(stft);
            AssertSame(stft.call(tensor(Signal)), Streamed(stream, chunking), $"{padding}/{mode}, chunks {chunking}");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Chunkings))]
    public void MelDecibelsAndMfcc_EqualTheOfflineLayers(string chunking)
    {
        using var scope = NewDisposeScope();
        using var melspec = AudioLayers.MelSpectrogram(16000, n_fft: 512, win_length: 400, hop_length: 160, n_mels: 40, to_db: true);
        using var mfcc = AudioLayers.Mfcc(13, 40);
        var offlineMel = melspec.call(tensor(Signal));
        using (var stream = StreamingSpectrogram.For(melspec))
            AssertSame(offlineMel, Streamed(stream, chunking), $"log-mel, chunks {chunking}");
        using (var stream = StreamingSpectrogram.For(melspec, mfcc))
            AssertSame(mfcc.call(offlineMel), Streamed(stream, chunking), $"MFCC, chunks {chunking}");

        using var power = AudioLayers.Stft(1024, hop_length: 256, output: SpectrumType.Power, pad_mode: PadMode.Constant);
        using (var stream = StreamingSpectrogram.For(power))
            AssertSame(power.call(tensor(Signal)), Streamed(stream, chunking), $"power, FFT 1024, chunks {chunking}");
    }

    [TestMethod]
    public void FramesComeAsSoonAsTheirLastSampleArrives()
    {
        // Centred, FFT 512, hop 160: frame k is centred on sample 160 k and ends at sample 160 k + 255; frame 0's reflect
        // padding mirrors samples 1..256, so it waits for sample 256.
        using var scope = NewDisposeScope();
        using var stft = AudioLayers.Stft(512, win_length: 400, hop_length: 160, output: SpectrumType.Power);
        using var stream = StreamingSpectrogram.For(stft);
        Assert.AreEqual(255L, stream.LatencySamples);
        var returned = new List<long>();
        Streamed(stream, "1", returned);
        for (int received = 1; received <= Signal.Length; received++)
        {
            long expected = received > 256 ? 1 + (received - 256) / 160 : 0;
            Assert.AreEqual(expected, returned[received - 1], $"after {received} samples");
        }
        Assert.AreEqual(1 + Signal.Length / 160, stream.FramesReturned, "Flush returns the frames that need the end");
    }

    [TestMethod]
    public void WhatCannotStream_IsRefused_SayingWhy()
    {
        using var scope = NewDisposeScope();
        using var same = AudioLayers.Stft(512, padding: FramePadding.Same);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => StreamingSpectrogram.For(same)).Message, "length of the whole signal");
        using var topDb = AudioLayers.MelSpectrogram(16000, to_db: true, top_db: 80);
        StringAssert.Contains(Assert.Throws<ArgumentException>(() => StreamingSpectrogram.For(topDb)).Message, "top_db = 80");

        using var stft = AudioLayers.Stft(512);
        using var shortStream = StreamingSpectrogram.For(stft);
        shortStream.Push(new float[200]);
        StringAssert.Contains(Assert.Throws<InvalidOperationException>(() => shortStream.Flush()).Message, "after 200 samples");
        Assert.Throws<InvalidOperationException>(() => shortStream.Push(new float[10]));
    }
}
