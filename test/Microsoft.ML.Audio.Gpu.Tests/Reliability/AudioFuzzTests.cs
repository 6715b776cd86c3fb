using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Tests.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// A seeded mutation fuzzer over the audio loading path (SharpFuzz/AFL++ would need an instrumented build; this loop
/// is deterministic and runs in the test suite). Every input must either decode or raise an
/// <see cref="AudioDecodeException"/>: no other exception, no hang, and no allocation out of proportion to the input.
/// </summary>
[TestClass]
public sealed class AudioFuzzTests
{
    /// <summary>Seed corpus: every encoding and layout the decoder supports, as files an independent writer made.</summary>
    private static IEnumerable<(string name, byte[] bytes)> Seeds()
    {
        var stereo = Signals.MultiChannel(300, 2, 8000);
        foreach (var format in Enum.GetValues<SampleFormat>().Where(f => f is not (SampleFormat.MuLaw or SampleFormat.ALaw)))
        {
            yield return ($"{format}", WavBuilder.For(stereo, 8000, format).ToBytes());
            yield return ($"{format}-ext", WavBuilder.For(stereo, 8000, format, extensible: true).ToBytes());
        }
        var odd = WavBuilder.For(Signals.Sine(301, 8000, 440, 0.3), 8000, SampleFormat.Pcm8);
        odd.ChunksBeforeData.Add(("LIST", Encoding.ASCII.GetBytes("INFOabc"))); // odd-sized chunk
        var oddBytes = odd.ToBytes();
        yield return ("pcm8-odd-list", oddBytes);
        // The same with the pad byte after the odd-sized chunk missing, as some writers produce.
        int list = oddBytes.AsSpan().IndexOf("LIST"u8);
        int padAt = list + 8 + (int)BinaryPrimitives.ReadUInt32LittleEndian(oddBytes.AsSpan(list + 4));
        yield return ("pcm8-odd-list-nopad", [.. oddBytes[..padAt], .. oddBytes[(padAt + 1)..]]);
        yield return ("rf64", new WavBuilder { Rf64 = true, Data = WavBuilder.Encode(stereo, SampleFormat.Pcm16), Channels = 2 }.ToBytes());
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "audio"), "*.wav").Order())
            yield return (Path.GetFileName(file), File.ReadAllBytes(file));
        // Every compressed format and AIFF (issue 16), as their own encoders wrote them (Fixtures/formats).
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "formats")).Where(IsFormatSeed).Order())
            yield return (Path.GetFileName(file), File.ReadAllBytes(file));
    }

    internal static bool IsFormatSeed(string path) => Path.GetExtension(path) is ".flac" or ".mp3" or ".ogg" or ".opus" or ".aiff" or ".aifc";

    /// <summary>Offsets of header fields in the other formats: FLAC's metadata and first frame, AIFF's chunks
    /// (big-endian sizes), Ogg's page header, MP3's first two frame headers.</summary>
    private static List<int> FormatBoundaries(byte[] b)
    {
        var offsets = Enumerable.Range(0, 16).Select(i => 4 * i).ToList();
        if (b.AsSpan().StartsWith("fLaC"u8))
        {
            offsets.AddRange([4, 5, 8, 10, 12, 15, 18, 19, 20, 21, 22, 26, 30, 34, 38]);
            int p = 4;
            while (p + 4 <= b.Length)
            {
                bool last = (b[p] & 0x80) != 0;
                p += 4 + (b[p + 1] << 16 | b[p + 2] << 8 | b[p + 3]);
                offsets.Add(p);
                if (last) break;
            }
            offsets.AddRange([p + 1, p + 2, p + 3, p + 4, p + 5, p + 6]); // the first frame's header
        }
        else if (b.AsSpan().StartsWith("FORM"u8))
        {
            int p = 12;
            while (p + 8 <= b.Length)
            {
                offsets.AddRange([p, p + 4, p + 8, p + 10, p + 12, p + 14, p + 16]);
                long size = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(p + 4));
                if (size > b.Length) break;
                p += 8 + (int)size + (int)(size & 1);
            }
        }
        else if (b.AsSpan().StartsWith("OggS"u8))
        {
            offsets.AddRange([5, 6, 14, 18, 22, 26, 27, 28, 36, 37, 38, 46]);
        }
        return offsets.Where(o => o < b.Length).Distinct().ToList();
    }

    /// <summary>Offsets where chunks start, found by walking the RIFF structure of an intact file.</summary>
    private static List<int> ChunkBoundaries(byte[] b)
    {
        var offsets = new List<int> { 0, 4, 8, 12 };
        int p = 12;
        while (p + 8 <= b.Length)
        {
            offsets.Add(p); offsets.Add(p + 4); offsets.Add(p + 8);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p + 4));
            if (size > b.Length) break;
            p += 8 + (int)size + (int)(size & 1);
        }
        return offsets;
    }

    /// <summary>Mutations of one seed, each with a description to report.</summary>
    private static IEnumerable<(string what, byte[] bytes)> Mutations(byte[] seed, Random rng)
    {
        var boundaries = seed.AsSpan().StartsWith("RIFF"u8) || seed.AsSpan().StartsWith("RF64"u8) ? ChunkBoundaries(seed) : FormatBoundaries(seed);
        foreach (int cut in boundaries.Concat(Enumerable.Range(0, Math.Min(64, seed.Length))).Distinct())
            if (cut < seed.Length) yield return ($"truncated at {cut}", seed[..cut]);
        uint[] lies = [0, 1, 2, 3, 0x7FFFF000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF];
        foreach (int at in boundaries.Where(o => o + 4 <= seed.Length))
            foreach (uint lie in lies)
            {
                var m = (byte[])seed.Clone();
                BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(at), lie);
                yield return ($"0x{lie:X} written at {at}", m);
            }
        int fmt = Array.IndexOf(boundaries.ToArray(), boundaries.FirstOrDefault(o => o + 4 <= seed.Length && Encoding.ASCII.GetString(seed, o, 4) == "fmt "));
        if (fmt >= 0)
        {
            int body = boundaries[fmt] + 8;
            (int offset, int width, long[] values)[] fields =
            [
                (0, 2, [0, 2, 3, 0x11, 0xFFFE, 0x55, 0xFFFF]),          // format tag
                (2, 2, [0, 1, 3, 255, 65535]),                          // channels
                (4, 4, [0, 1, 7, 384000, 0x7FFFFFFF, 0xFFFFFFFF]),      // sample rate
                (12, 2, [0, 1, 3, 7, 65535]),                           // block align
                (14, 2, [0, 1, 7, 12, 33, 64, 65535]),                  // bits per sample
            ];
            foreach (var (offset, width, values) in fields)
                foreach (long v in values)
                {
                    if (body + offset + width > seed.Length) continue;
                    var m = (byte[])seed.Clone();
                    if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(body + offset), (ushort)v);
                    else BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(body + offset), (uint)v);
                    yield return ($"fmt field +{offset} = {v}", m);
                }
        }
        for (int i = 0; i < 150; i++)
        {
            var m = (byte[])seed.Clone();
            int flips = 1 + rng.Next(8);
            for (int f = 0; f < flips; f++)
            {
                int at = rng.Next(Math.Min(m.Length, rng.Next(2) == 0 ? 80 : m.Length));
                m[at] ^= (byte)(1 << rng.Next(8));
            }
            yield return ($"{flips} bit flips (mutation {i})", m);
        }
        // A chunk duplicated, and junk appended.
        if (boundaries.Count > 5)
        {
            int start = boundaries[4], end = Math.Min(seed.Length, boundaries[^1]);
            yield return ("chunks duplicated", [.. seed, .. seed[start..end]]);
        }
        yield return ("junk appended", [.. seed, .. Enumerable.Range(0, 37).Select(i => (byte)(i * 91))]);
    }

    private static string FormatOf(string seedName) => Path.GetExtension(seedName) is { Length: > 0 } ext && ext != ".wav" ? ext.TrimStart('.') : "wav";

    private static readonly AudioDecodeOptions[] Decodings =
    [
        new() { Mono = false },
        new() { SampleRate = 16000, DurationSeconds = 0.05 },
        new() { SampleRate = 11025, Crop = CropAlignment.Loudest, DurationSeconds = 0.01 },
    ];

    [TestMethod]
    public void MutatedFiles_DecodeOrRaiseAudioDecodeException_WithBoundedTimeAndMemory()
    {
        var rng = new Random(20261127);
        int runs = 0, decoded = 0, rejected = 0;
        var failures = new List<string>();
        var reasons = new Dictionary<string, int>();
        var byFormat = new SortedDictionary<string, (int decoded, int rejected)>();
        double slowest = 0;
        string slowestInput = "";
        long mostAllocated = 0;
        foreach (var (name, seed) in Seeds())
            foreach (var (what, bytes) in Mutations(seed, rng))
            {
                var options = Decodings[runs % Decodings.Length];
                runs++;
                long before = GC.GetAllocatedBytesForCurrentThread();
                var watch = Stopwatch.StartNew();
                try
                {
                    var audio = AudioDecoder.Decode(bytes, $"{name}: {what}", options);
                    if (audio.Samples.Any(v => !float.IsFinite(v))) failures.Add($"{name}: {what}: decoded to non-finite samples");
                    decoded++;
                    byFormat[FormatOf(name)] = (byFormat.GetValueOrDefault(FormatOf(name)).decoded + 1, byFormat.GetValueOrDefault(FormatOf(name)).rejected);
                }
                catch (AudioDecodeException e)
                {
                    rejected++;
                    byFormat[FormatOf(name)] = (byFormat.GetValueOrDefault(FormatOf(name)).decoded, byFormat.GetValueOrDefault(FormatOf(name)).rejected + 1);
                    string reason = e.Reason.Split(':')[0];
                    reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
                    if (!e.Message.Contains(name)) failures.Add($"{name}: {what}: the message does not name the source: {e.Message}");
                }
                catch (Exception e)
                {
                    failures.Add($"{name}: {what}: {e.GetType().Name}: {e.Message}");
                }
                watch.Stop();
                if (watch.Elapsed.TotalMilliseconds > slowest)
                    (slowest, slowestInput) = (watch.Elapsed.TotalMilliseconds, $"{name}: {what}");
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                mostAllocated = Math.Max(mostAllocated, allocated);
                // Work and memory scale with the real data (and the 0.05 s / 30 s search outputs), never with a declared size.
                if (allocated > 64L << 20) failures.Add($"{name}: {what}: allocated {allocated >> 20} MiB for {bytes.Length} bytes");
            }
        Console.WriteLine($"{runs} inputs: {decoded} decoded, {rejected} rejected; slowest {slowest:F1} ms ({slowestInput}); most allocated {mostAllocated / 1048576.0:F1} MiB");
        foreach (var (reason, count) in reasons.OrderByDescending(r => r.Value).Take(12)) Console.WriteLine($"  {count,5} x {reason}");
        foreach (var (format, (ok, bad)) in byFormat.OrderBy(f => f.Key)) Console.WriteLine($"  {format}: {ok} decoded, {bad} rejected");
        Assert.IsGreaterThan(3000, runs, "the corpus produced fewer inputs than planned");
        foreach (string format in new[] { "wav", "flac", "mp3", "ogg", "opus", "aiff", "aifc" })
            Assert.IsTrue(byFormat.ContainsKey(format), $"no {format} seed was fuzzed");
        foreach (var f in failures) Console.WriteLine("FAIL " + f);
        Assert.IsEmpty(failures, $"{failures.Count} inputs broke the contract; first: {string.Join(" || ", failures.Take(5))}");
    }
}
