using System.Text.Json;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// The fixtures of Fixtures/generate_cepstra_filterbanks_norms.py (MFCC, DCT, log-frequency filterbank, Normalization2D,
/// frequency-aware conv), in Fixtures/cepstra_filterbanks_norms/. Tests read them; they never run Python.
/// </summary>
public static class CepstraFilterbanksNormsFixtures
{
    public static string Root { get; } = Path.Combine(ReferenceFixtures.Root, "cepstra_filterbanks_norms");

    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "manifest.json"))).RootElement);

    /// <summary>Case names of one kind, as MSTest data rows.</summary>
    public static IEnumerable<object[]> CaseNames(string kind)
        => Cases(kind).Select(c => new object[] { c.GetProperty("name").GetString()! });

    public static IEnumerable<JsonElement> Cases(string kind)
        => Manifest.Value.GetProperty("cases").EnumerateArray().Where(c => c.GetProperty("kind").GetString() == kind);

    public static JsonElement Case(string name)
        => Manifest.Value.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>A file of the case named by <paramref name="property"/> ("expected", "input", "weight", ...).</summary>
    public static NpyArray Data(JsonElement c, string property) => Npy.Read(Path.Combine(Root, c.GetProperty(property).GetString()!));

    /// <summary>The array as a float32 tensor of its shape.</summary>
    public static Tensor Tensor(NpyArray a) => tensor(a.Data, a.Shape);
}
