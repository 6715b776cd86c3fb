using System.Text.Json;
using Microsoft.ML.Audio.Gpu.Layers;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// The reference fixtures made by Fixtures/generate.py (torchaudio 0.13.1, numpy, scipy; see Fixtures/README.md)
/// and Kapre's own reference spectrograms. Tests read them; they never run Python.
/// </summary>
public static class ReferenceFixtures
{
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "Fixtures");

    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "manifest.json"))).RootElement);

    public static JsonElement Kapre => Manifest.Value.GetProperty("kapre");

    /// <summary>Case names of one kind, as MSTest data rows.</summary>
    public static IEnumerable<object[]> CaseNames(string kind, Func<JsonElement, bool>? where = null)
        => Cases(kind).Where(c => where?.Invoke(c) ?? true).Select(c => new object[] { c.GetProperty("name").GetString()! });

    public static IEnumerable<JsonElement> Cases(string kind)
        => Manifest.Value.GetProperty("cases").EnumerateArray().Where(c => c.GetProperty("kind").GetString() == kind);

    public static JsonElement Case(string name)
        => Manifest.Value.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    public static NpyArray Data(string file) => Npy.Read(Path.Combine(Root, "data", file));

    public static NpyArray File_(string relativeToFixtures) => Npy.Read(Path.Combine(Root, relativeToFixtures));

    public static (NpyArray samples, int sampleRate) Signal(string name)
    {
        var s = Manifest.Value.GetProperty("signals").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        return (Data(s.GetProperty("file").GetString()!), s.GetProperty("sample_rate").GetInt32());
    }

    public static long Long(this JsonElement e, string property) => e.GetProperty(property).GetInt64();
    public static double Double(this JsonElement e, string property) => e.GetProperty(property).GetDouble();
    public static double? NullableDouble(this JsonElement e, string property)
        => e.GetProperty(property).ValueKind == JsonValueKind.Null ? null : e.GetProperty(property).GetDouble();
    public static string? String(this JsonElement e, string property)
        => e.GetProperty(property).ValueKind == JsonValueKind.Null ? null : e.GetProperty(property).GetString();

    public static WindowType Window(string name) => name switch
    {
        "hann" => WindowType.Hann,
        "hamming" => WindowType.Hamming,
        "rectangular" => WindowType.Rectangular,
        _ => throw new InvalidDataException($"unknown window '{name}' in the manifest"),
    };

    public static FramePadding Framing(string name) => name switch
    {
        "center" => FramePadding.Center,
        "nocenter" => FramePadding.NoCenter,
        "none" => FramePadding.Valid,
        "begin" => FramePadding.PadBegin,
        "end" => FramePadding.PadEnd,
        "begin_end" => FramePadding.PadBeginAndEnd,
        "same" => FramePadding.Same,
        _ => throw new InvalidDataException($"unknown framing '{name}' in the manifest"),
    };

    public static PadMode PadMode(string? name) => name == "constant" ? Microsoft.ML.Audio.Gpu.Layers.PadMode.Constant : Microsoft.ML.Audio.Gpu.Layers.PadMode.Reflect;

    public static MelScale MelScale(string? name) => name switch
    {
        "htk" => Microsoft.ML.Audio.Gpu.Layers.MelScale.Htk,
        "slaney" => Microsoft.ML.Audio.Gpu.Layers.MelScale.Slaney,
        _ => throw new InvalidDataException($"unknown mel scale '{name}' in the manifest"),
    };

    public static MelNorm MelNorm(string? name) => name == "slaney" ? Microsoft.ML.Audio.Gpu.Layers.MelNorm.Slaney : Microsoft.ML.Audio.Gpu.Layers.MelNorm.None;

    public static SpectrumType Output(string name) => name switch
    {
        "power" => SpectrumType.Power,
        "magnitude" => SpectrumType.Magnitude,
        "complex" => SpectrumType.Complex,
        _ => throw new InvalidDataException($"unknown output '{name}' in the manifest"),
    };
}
