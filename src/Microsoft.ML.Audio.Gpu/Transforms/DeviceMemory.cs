using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Running a batch on a device that may run out of memory: a batch that fails with libtorch's out-of-memory error
/// is split in halves and retried, down to single rows, so a large batch degrades to smaller ones instead of failing;
/// a single row that still does not fit fails with a message that says so. Each attempt runs inside its own dispose
/// scope (the caller's), so a failed attempt frees what it allocated and leaves the device usable.
/// </summary>
internal static class DeviceMemory
{
    /// <summary>Test hook: when set, a run of this many rows behaves as if the device ran out of memory.</summary>
    internal static Func<int, bool>? SimulateOutOfMemory;

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
                if (SimulateOutOfMemory?.Invoke(n) == true)
                    throw new ExternalException($"CUDA out of memory (simulated for a batch of {n})");
                run(start, n);
            }
            catch (ExternalException e) when (IsOutOfMemory(e))
            {
                if (n == 1)
                    throw new InvalidOperationException($"The device ran out of memory for a single row: {e.Message.Split('\n')[0]}", e);
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
}
