using System.Text.Json;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// The fixtures of Fixtures/generate_inverse_framing_windows.py (inverse STFT, Griffin-Lim, framing, energy, mu-law, windows, deltas),
/// listed in Fixtures/inverse_framing_windows/manifest.json. Signals are those of <see cref="ReferenceFixtures"/>.
/// </summary>
public static class InverseFramingWindowsFixtures
{
    public static string Root { get; } = Path.Combine(ReferenceFixtures.Root, "inverse_framing_windows");

    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "manifest.json"))).RootElement);

    /// <summary>Case names of one kind, as MSTest data rows.</summary>
    public static IEnumerable<object[]> CaseNames(string kind, Func<JsonElement, bool>? where = null)
        => Cases(kind).Where(c => where?.Invoke(c) ?? true).Select(c => new object[] { c.GetProperty("name").GetString()! });

    public static IEnumerable<JsonElement> Cases(string kind)
        => Manifest.Value.GetProperty("cases").EnumerateArray().Where(c => c.GetProperty("kind").GetString() == kind);

    public static JsonElement Case(string name)
        => Manifest.Value.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>The array a case names under <paramref name="property"/> ("input" or "expected").</summary>
    public static NpyArray Data(JsonElement c, string property = "expected")
        => Npy.Read(Path.Combine(Root, c.GetProperty(property).GetString()!));

    public static bool Bool(this JsonElement e, string property) => e.GetProperty(property).GetBoolean();
}
