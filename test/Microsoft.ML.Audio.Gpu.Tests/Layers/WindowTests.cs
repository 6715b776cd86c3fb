using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class WindowTests
{
    /// <summary>Windows computed in float64 and rounded once to float32, against float64 references rounded to float32:
    /// at most one float32 rounding apart (6e-8 for values up to 1; measured: 0, the roundings agree).</summary>
    private const double WindowAbs = 1e-7;

    /// <summary>Power complementarity w[n]² + w[n + N/2]² = 1 in float32 (a few ulps).</summary>
    private const double ComplementarityAbs = 1e-6;

    public static IEnumerable<object[]> Cases => InverseFramingWindowsFixtures.CaseNames("window");

    private static Tensor Build(System.Text.Json.JsonElement c)
    {
        long n = c.Long("window_length");
        return c.String("window") switch
        {
            "kaiser" => Functional.kaiser_window(n, periodic: c.Bool("periodic"), beta: c.Double("beta")),
            "kbd" => Functional.kbd_window(n, c.Double("beta")),
            "vorbis" => Functional.vorbis_window(n),
            var other => throw new InvalidDataException($"unknown window '{other}' in the manifest"),
        };
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void Window_MatchesReference(string name)
    {
        var c = InverseFramingWindowsFixtures.Case(name);
        using var scope = NewDisposeScope();
        var w = Build(c);
        Assert.AreEqual(ScalarType.Float32, w.dtype);
        Compare.Absolute(w, InverseFramingWindowsFixtures.Data(c), WindowAbs, name);
    }

    [TestMethod]
    public void Windows_FollowDtype()
    {
        using var scope = NewDisposeScope();
        Assert.AreEqual(ScalarType.Float64, Functional.kaiser_window(16, dtype: ScalarType.Float64).dtype);
        Assert.AreEqual(ScalarType.Float64, Functional.kbd_window(16, 4, dtype: ScalarType.Float64).dtype);
        Assert.AreEqual(ScalarType.Float64, Functional.vorbis_window(16, dtype: ScalarType.Float64).dtype);
    }

    [TestMethod]
    public void KaiserWindow_WithBetaZero_IsRectangular()
    {
        using var scope = NewDisposeScope();
        CollectionAssert.AreEqual(Enumerable.Repeat(1f, 8).ToArray(), Compare.ToArray(Functional.kaiser_window(8, beta: 0)));
    }

    [TestMethod]
    [DataRow("kbd", 256L)]
    [DataRow("vorbis", 256L)]
    [DataRow("vorbis", 2048L)]
    public void Window_IsPowerComplementary_AtHalfOverlap(string kind, long n)
    {
        using var scope = NewDisposeScope();
        var w = kind == "kbd" ? Functional.kbd_window(n, 4 * Math.PI) : Functional.vorbis_window(n);
        Compare.Shape(w, [n], kind);
        var sum = w.narrow(0, 0, n / 2).pow(HeldScalars.Two).add(w.narrow(0, n / 2, n / 2).pow(HeldScalars.Two), HeldScalars.One);
        double worst = sum.sub(ones(n / 2)).abs().max().item<float>();
        Assert.IsLessThanOrEqualTo(ComplementarityAbs, worst, $"{kind} {n}: max |w[n]² + w[n + N/2]² − 1| = {worst:G3}");
    }

    [TestMethod]
    public void VorbisWindow_ReconstructsPerfectly_InStftAtHalfOverlap()
    {
        // A power-complementary window gives a constant window-square sum at 50 % overlap: the inverse STFT is exact.
        using var scope = NewDisposeScope();
        var x = tensor(ReferenceFixtures.Signal("chirp16k").samples.Data);
        var w = Functional.vorbis_window(256);
        var y = Functional.istft(Functional.stft(x, 256, 128, w), 256, 128, w, length: x.shape[0]);
        Compare.RelativeToMax(Compare.ToArray(y), Compare.ToArray(x), 1e-5, "vorbis round trip");
    }

    private static void AssertNames(string expectedParam, Action act)
    {
        var ex = Assert.Throws<ArgumentException>(act);
        Assert.AreEqual(expectedParam, ex.ParamName, ex.Message);
        StringAssert.Contains(ex.Message, expectedParam);
    }

    [TestMethod]
    public void Windows_Throw_NamingTheArgument()
    {
        AssertNames("window_length", () => Functional.kaiser_window(0));
        AssertNames("beta", () => Functional.kaiser_window(16, beta: -1));
        AssertNames("beta", () => Functional.kaiser_window(16, beta: double.NaN));
        AssertNames("window_length", () => Functional.kbd_window(15, 4));
        AssertNames("window_length", () => Functional.kbd_window(0, 4));
        AssertNames("beta", () => Functional.kbd_window(16, -4));
        AssertNames("window_length", () => Functional.vorbis_window(-2));
        AssertNames("dtype", () => Functional.vorbis_window(16, dtype: ScalarType.Int32));
    }
}
