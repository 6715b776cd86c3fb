using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Running a batch on a device that may run out of memory: a batch that fails with libtorch's out-of-memory error
/// is split in halves and retried, down to single rows, so a large batch degrades to smaller ones instead of failing;
/// a single row that still does not fit fails with a <see cref="RowTooLargeForDeviceException"/>. Each attempt runs
/// inside its own dispose scope (the caller's), so a failed attempt frees what it allocated and leaves the device usable.
/// </summary>
internal static class DeviceMemory
{
    /// <summary>Runs <paramref name="run"/>(start, count) over <c>[0, count)</c>, halving on out-of-memory.</summary>
    /// <returns>The number of attempts that ran out of memory (0 when the whole batch fitted).</returns>
    public static int RunSplitting(int count, Action<int, int> run)
    {
        int splits = 0;
        Run(0, count);
        return splits;

        void Run(int start, int n)
        {
            try
            {
                run(start, n);
            }
            catch (ExternalException e) when (IsOutOfMemory(e))
            {
                if (n == 1)
                    throw new RowTooLargeForDeviceException($"The device ran out of memory for a single row: {e.Message.Split('\n')[0]}", e);
                splits++;
                int half = n / 2;
                Run(start, half);
                Run(start + half, n - half);
            }
        }
    }

    public static bool IsOutOfMemory(Exception e)
        => e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
           || e.Message.Contains("not enough memory", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Whether a failure while computing rows belongs to those rows' data, and is reported on them (raised when such a
    /// row's value is read; other rows go on): a row the layer refuses (an <see cref="ArgumentException"/> about the
    /// layer's input, e.g. too short for its padding), libtorch refusing the data, a row too large for the device.
    /// Anything else (an option out of range, a fault of this library) is not the data's and propagates as it is.
    /// </summary>
    public static bool IsRowDataError(Exception e)
        => e is RowTooLargeForDeviceException or ExternalException
           || e is ArgumentException { ParamName: "input" or "specgram" or "waveform" };
}

/// <summary>A single row does not fit in the device's memory: a property of that row's size, reported on the row.</summary>
internal sealed class RowTooLargeForDeviceException(string message, Exception inner) : InvalidOperationException(message, inner);
