using System.Text.Json;
using Microsoft.ML.Audio.Gpu.Layers;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// The fixtures of Fixtures/generate_resampling.py (resampling), listed in Fixtures/resampling/manifest.json. Signals are
/// those of <see cref="ReferenceFixtures"/>.
/// </summary>
public static class ResamplingFixtures
{
    public static string Root { get; } = Path.Combine(ReferenceFixtures.Root, "resampling");

    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "manifest.json"))).RootElement);

    /// <summary>Case names of one kind, as MSTest data rows.</summary>
    public static IEnumerable<object[]> CaseNames(string kind)
        => Manifest.Value.GetProperty("cases").EnumerateArray()
            .Where(c => c.GetProperty("kind").GetString() == kind)
            .Select(c => new object[] { c.GetProperty("name").GetString()! });

    public static JsonElement Case(string name)
        => Manifest.Value.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>The array a case names under <paramref name="property"/>.</summary>
    public static NpyArray Data(JsonElement c, string property = "expected")
        => Npy.Read(Path.Combine(Root, c.GetProperty(property).GetString()!));

    public static ResamplingMethod Method(string? name) => name switch
    {
        "sinc_interp_hann" => ResamplingMethod.SincInterpHann,
        "sinc_interp_kaiser" => ResamplingMethod.SincInterpKaiser,
        _ => throw new InvalidDataException($"unknown resampling method '{name}' in the manifest"),
    };
}
