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

    // The CUDA libraries report a failed allocation in their own words: cuFFT's plan, cuBLAS's handle or workspace and
    // cuDNN's workspace are allocated lazily on the first call of a batch size, so a large batch can fail there too.
    // libtorch's CPU allocator says "DefaultCPUAllocator: can't allocate memory" (found by the CUDA tests' dry run here).
    private static readonly string[] OutOfMemoryMessages =
    [
        "out of memory", "not enough memory", "can't allocate memory", "CUFFT_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED",
        "CUSOLVER_STATUS_ALLOC_FAILED", "CUSPARSE_STATUS_ALLOC_FAILED",
    ];

    // Errors after which the CUDA context is unusable: every later call on the device fails the same way, so they are
    // neither retried nor reported on rows (https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__TYPES.html:
    // "the process is left in an inconsistent state and any further CUDA work will return the same error").
    private static readonly string[] DeviceFaultMessages =
    [
        "illegal memory access", "device-side assert", "unspecified launch failure", "misaligned address",
        "illegal instruction", "uncorrectable ECC error", "an illegal address", "CUDA error: launch timeout",
        "hardware stack error", "device has fallen off the bus", "CUDA driver version is insufficient",
    ];

    public static bool IsOutOfMemory(Exception e) => ContainsAny(e.Message, OutOfMemoryMessages);

    /// <summary>Whether <paramref name="e"/> is a sticky device fault (the CUDA context is lost for this process).</summary>
    public static bool IsDeviceFault(Exception e) => e is DeviceFaultException || (e is ExternalException && ContainsAny(e.Message, DeviceFaultMessages));

    private static bool ContainsAny(string message, string[] parts)
        => parts.Any(p => message.Contains(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Whether a failure while computing rows belongs to those rows' data, and is reported on them (raised when such a
    /// row's value is read; other rows go on): a row the layer refuses (an <see cref="ArgumentException"/> about the
    /// layer's input, e.g. too short for its padding), libtorch refusing the data, a row too large for the device.
    /// Anything else (an option out of range, a fault of this library) is not the data's and propagates as it is.
    /// </summary>
    public static bool IsRowDataError(Exception e)
        => !IsDeviceFault(e)
           && (e is RowTooLargeForDeviceException or ExternalException || e is ArgumentException { ParamName: "input" or "specgram" or "waveform" });

    /// <summary>The exception that stops a transform after a sticky device fault, naming the component and the device.</summary>
    public static DeviceFaultException Fault(string component, torch.Device device, Exception e)
        => e as DeviceFaultException ?? new DeviceFaultException(
            $"{component}: the device {device} failed ({e.Message.Split('\n')[0]}). CUDA cannot recover from this error in this process: "
            + "no further rows are computed on it; restart the process (or set MLContext.GpuDeviceId to null to run on the CPU).", e);
}

/// <summary>A sticky device fault (e.g. an illegal memory access): the device is unusable for the rest of the process.</summary>
public sealed class DeviceFaultException : InvalidOperationException
{
    internal DeviceFaultException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>A single row does not fit in the device's memory: a property of that row's size, reported on the row.</summary>
internal sealed class RowTooLargeForDeviceException(string message, Exception inner) : InvalidOperationException(message, inner);
