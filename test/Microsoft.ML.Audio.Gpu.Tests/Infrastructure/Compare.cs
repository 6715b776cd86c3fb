using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>Shape and value comparisons that report where and by how much a result is off.</summary>
public static class Compare
{
    public static float[] ToArray(Tensor t) => t.detach().cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray();

    public static void Shape(Tensor actual, long[] expected, string what)
        => CollectionAssert.AreEqual(expected, actual.shape, $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected)}]");

    /// <summary>Asserts max |actual − expected| ≤ relTol · max |expected|, and returns that relative error.</summary>
    public static double RelativeToMax(Tensor actual, NpyArray expected, double relTol, string what)
    {
        Shape(actual, expected.Shape, what);
        return RelativeToMax(ToArray(actual), expected.Data, relTol, what);
    }

    public static double RelativeToMax(float[] actual, float[] expected, double relTol, string what)
    {
        Assert.HasCount(expected.Length, actual, $"{what}: element count");
        double scale = expected.Max(v => Math.Abs((double)v));
        Assert.IsGreaterThan(0.0, scale, $"{what}: the reference is all zeros, which would make the comparison meaningless");
        var (err, at) = MaxAbsDiff(actual, expected);
        double rel = err / scale;
        Console.WriteLine($"{what}: max |diff| / max |ref| = {rel:G3} (tolerance {relTol:G3})");
        Assert.IsLessThanOrEqualTo(relTol, rel,
            $"{what}: max |diff| = {err:G4} at flat index {at} (got {actual[at]:G7}, expected {expected[at]:G7}), {rel:G3} of max |ref| = {scale:G4}; tolerance {relTol:G3}");
        return rel;
    }

    /// <summary>Asserts max |actual − expected| ≤ absTol, and returns that error.</summary>
    public static double Absolute(Tensor actual, NpyArray expected, double absTol, string what)
    {
        Shape(actual, expected.Shape, what);
        var a = ToArray(actual);
        var (err, at) = MaxAbsDiff(a, expected.Data);
        Console.WriteLine($"{what}: max |diff| = {err:G3} (tolerance {absTol:G3})");
        Assert.IsLessThanOrEqualTo(absTol, err,
            $"{what}: max |diff| = {err:G4} at flat index {at} (got {a[at]:G7}, expected {expected.Data[at]:G7}); tolerance {absTol:G3}");
        return err;
    }

    private static (double err, int at) MaxAbsDiff(float[] a, float[] e)
    {
        double err = -1; int at = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs((double)a[i] - e[i]);
            if (double.IsNaN(d)) return (double.PositiveInfinity, i);
            if (d > err) { err = d; at = i; }
        }
        return (err, at);
    }
}
