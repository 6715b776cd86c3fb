using System.Runtime.CompilerServices;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>Argument checks whose messages give the name, the rule and the value (Kapre's style).</summary>
internal static class Check
{
    public static long Positive(long value, [CallerArgumentExpression(nameof(value))] string? name = null)
        => value > 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive, got: {value}");

    public static double Positive(double value, [CallerArgumentExpression(nameof(value))] string? name = null)
        => Finite(value, name) > 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive, got: {value}");

    public static double Finite(double value, [CallerArgumentExpression(nameof(value))] string? name = null)
        => double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number, got: {value}");

    public static double NonNegative(double value, [CallerArgumentExpression(nameof(value))] string? name = null)
        => Finite(value, name) >= 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must not be negative, got: {value}");

    public static T Defined<T>(T value, [CallerArgumentExpression(nameof(value))] string? name = null) where T : struct, Enum
        => Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be one of {string.Join(", ", Enum.GetNames<T>())}, got: {value}");
}
