using System.Globalization;
using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>
/// Files written by SoX 14.4.2 (Fixtures/audio/generate.sh): the decoded header matches what soxi reports, the first
/// frames match SoX's own decoding, and every frame matches the sine formula the files were made from.
/// </summary>
[TestClass]
public sealed class SoxFixtureTests
{
    /// <summary>SoX's .dat output prints 11 significant digits.</summary>
    private const double DatPrintPrecision = 1e-9;

    /// <summary>This library returns float32: a 32-bit or float64 value is rounded to 24 significant bits.</summary>
    private const double Float32Rounding = 1.0 / (1 << 24);

    /// <summary>Float data: SoX rounds the formula to its 32-bit internal samples (2^-31), the file and this library
    /// keep float32 (2^-25 at amplitude 0.5).</summary>
    private const double FloatTolerance = 1e-7;

    /// <summary>G.711: half the widest quantisation step (1024 of 32768 at the top segment), plus one 16-bit LSB for
    /// SoX's rounding to 16 bits before encoding.</summary>
    private const double G711Tolerance = 512.0 / 32768 + 1.0 / 32768;

    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "audio");

    public sealed record Fixture(string Name, int Channels, int Rate, int Frames, int Bits, string Encoding, double[] Frequencies, bool Supported);

    private static readonly Lazy<Dictionary<string, Fixture>> Manifest = new(() => File.ReadAllLines(Path.Combine(Folder, "manifest.tsv"))
        .Skip(1)
        .Select(line => line.Split('\t'))
        .Select(f => new Fixture(f[0], int.Parse(f[1], CultureInfo.InvariantCulture), (int)double.Parse(f[2], CultureInfo.InvariantCulture),
                                 int.Parse(f[3], CultureInfo.InvariantCulture), int.Parse(f[4], CultureInfo.InvariantCulture), f[5],
                                 f[6].Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray(), f[7] == "yes"))
        .ToDictionary(f => f.Name));

    public static IEnumerable<object[]> Supported => Manifest.Value.Values.Where(f => f.Supported).Select(f => new object[] { f.Name });

    public static IEnumerable<object[]> Unsupported => Manifest.Value.Values.Where(f => !f.Supported).Select(f => new object[] { f.Name });

    private static AudioBuffer Decode(Fixture f) => AudioDecoder.Decode(Path.Combine(Folder, f.Name + ".wav"), new AudioDecodeOptions { Mono = false });

    private static double Tolerance(Fixture f) => f.Encoding switch
    {
        "u-law" or "A-law" => G711Tolerance,
        "Floating Point PCM" => FloatTolerance,
        // SoX rounds to the nearest code (half an LSB), after rounding the formula to its 32-bit samples; float32 rounding.
        _ => 0.5 * Math.Pow(2, 1 - f.Bits) + Float32Rounding,
    };

    [TestMethod]
    public void Manifest_ListsEveryFixtureOnDisk()
    {
        var onDisk = Directory.GetFiles(Folder, "*.wav").Select(Path.GetFileNameWithoutExtension).Order().ToArray();
        CollectionAssert.AreEqual(Manifest.Value.Keys.Order().ToArray(), onDisk);
        Assert.IsGreaterThanOrEqualTo(10, Supported.Count());
    }

    [TestMethod]
    [DynamicData(nameof(Supported))]
    public void Decode_ReportsTheChannelsRateAndFramesSoxReports(string name)
    {
        var f = Manifest.Value[name];
        var decoded = Decode(f);

        Assert.AreEqual(f.Channels, decoded.Channels);
        Assert.AreEqual(f.Rate, decoded.SampleRate);
        Assert.AreEqual(f.Frames, decoded.Frames);
    }

    [TestMethod]
    [DynamicData(nameof(Supported))]
    public void Decode_MatchesSoxsOwnDecodingOfTheFirstFrames(string name)
    {
        var f = Manifest.Value[name];
        var decoded = Decode(f);
        var rows = File.ReadLines(Path.Combine(Folder, name + ".dat"))
            .Where(l => !l.StartsWith(';'))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray())
            .ToArray();

        Assert.AreEqual(32, rows.Length);
        for (int i = 0; i < rows.Length; i++)
            for (int c = 0; c < f.Channels; c++)
                Assert.AreEqual(rows[i][c], decoded.GetChannel(c)[i], DatPrintPrecision + Math.Abs(rows[i][c]) * Float32Rounding, $"frame {i}, channel {c}");
    }

    [TestMethod]
    [DynamicData(nameof(Supported))]
    public void Decode_MatchesTheSineFormulaTheFileWasMadeFrom(string name)
    {
        var f = Manifest.Value[name];
        var decoded = Decode(f);
        double tolerance = Tolerance(f), worst = 0;

        for (int c = 0; c < f.Channels; c++)
        {
            var channel = decoded.GetChannel(c);
            for (int i = 0; i < f.Frames; i++)
            {
                double expected = 0.5 * Math.Sin(2 * Math.PI * f.Frequencies[c] * i / f.Rate);
                worst = Math.Max(worst, Math.Abs(channel[i] - expected));
            }
        }

        Console.WriteLine($"{name}: largest error {worst:E3} (tolerance {tolerance:E3})");
        Assert.IsLessThanOrEqualTo(tolerance, worst);
    }

    [TestMethod]
    [DynamicData(nameof(Unsupported))]
    public void Decode_Throws_NamingFileAndEncoding_ForEncodingsSoxWritesButThisLibraryDoesNotDecode(string name)
    {
        var path = Path.Combine(Folder, name + ".wav");

        var e = Assert.Throws<AudioDecodeException>(() => AudioDecoder.Decode(path, new AudioDecodeOptions()));

        Assert.AreEqual(path, e.SourceName);
        StringAssert.StartsWith(e.Message, $"Cannot decode audio '{path}': unsupported encoding ");
        StringAssert.Contains(e.Reason, name.StartsWith("gsm") ? "format tag 0x0031" : "format tag 0x0011");
    }
}
