using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// The process's memory allocator policy for libtorch on the CPU (Linux with glibc), applied only when the application
/// asks for it: <see cref="KapreRuntimeOptions.KeepFreedCpuMemory"/>.
/// </summary>
/// <remarks>
/// <para>
/// libtorch allocates every CPU tensor with <c>posix_memalign</c> and frees it when the tensor is disposed. With glibc's
/// defaults a freed buffer of a few megabytes goes back to the operating system (the heap is trimmed, or the block was
/// mapped on its own), so the next batch's buffers are fresh pages again and every 4 KiB page costs a fault on first
/// touch. For a mel spectrogram of 64 clips × 1 s that is about 6,500 faults and 6 ms of a 10 ms batch (measured on
/// 2 cores: <c>docs/benchmarks.md</c>); the FFT itself takes 1.2 ms.
/// </para>
/// <para>
/// <see cref="Configure()"/> keeps freed memory in the process for reuse: blocks up to <see cref="MmapThreshold"/> come from
/// the heap instead of separate mappings, and the heap is only trimmed when more than <see cref="TrimThreshold"/> is free at
/// its top; heaps keep <see cref="TopPad"/> of room, so per-thread heaps are not deleted when they empty. The cost is
/// memory: the process keeps the high-water mark of its heaps (up to <see cref="TrimThreshold"/> more than it uses)
/// instead of returning it. It is the same setting as the environment variables
/// <c>MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_TOP_PAD_=33554432</c>, made at run time.
/// Elsewhere (Windows, macOS, musl) it does nothing.
/// </para>
/// </remarks>
internal static class CpuAllocator
{
    /// <summary>Blocks up to this size (32 MiB, glibc's maximum for the setting) are served from the heap.</summary>
    internal const int MmapThreshold = 32 * 1024 * 1024;

    /// <summary>Free memory at the top of the heap beyond this size (256 MiB) is returned to the operating system.</summary>
    internal const int TrimThreshold = 256 * 1024 * 1024;

    /// <summary>
    /// Extra room (32 MiB) kept when a heap grows or is trimmed. On threads other than the main one glibc allocates
    /// from per-thread arenas made of 64 MiB heaps, and deletes a heap as soon as it is empty, whatever the trim
    /// threshold; this padding keeps it (and a block up to <see cref="MmapThreshold"/> plus the pad still fits one heap).
    /// </summary>
    internal const int TopPad = 32 * 1024 * 1024;

    private const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_THRESHOLD = -3;
    private static readonly object Gate = new();
    private static bool? _configured;

    /// <summary>Whether <see cref="Configure()"/> has applied the policy in this process.</summary>
    public static bool IsConfigured => _configured == true;

    /// <summary>
    /// Applies the policy once per process (later calls return the first result).
    /// </summary>
    /// <returns>True when applied (Linux with glibc); false where there is nothing to set.</returns>
    public static bool Configure() => Configure(out _);

    /// <summary>As <see cref="Configure()"/>; <paramref name="first"/> tells whether this call made the decision.</summary>
    internal static bool Configure(out bool first)
    {
        lock (Gate)
        {
            first = _configured is null;
            _configured ??= Apply();
            return _configured.Value;
        }
    }

    /// <summary>A sentence for logs: what <see cref="Configure()"/> did in this process.</summary>
    public static string Describe() => _configured switch
    {
        true => $"glibc malloc keeps freed CPU tensor memory for reuse (mmap threshold {MmapThreshold >> 20} MiB, trim threshold {TrimThreshold >> 20} MiB, top pad {TopPad >> 20} MiB)",
        false => "the C allocator was left as it is (not Linux with glibc)",
        null => "the C allocator's settings have not been changed",
    };

    private static bool Apply()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            _ = gnu_get_libc_version(); // throws EntryPointNotFoundException on musl and other C libraries
            // mallopt returns 1 on success. Setting either value also turns off glibc's dynamic thresholds.
            return mallopt(M_MMAP_THRESHOLD, MmapThreshold) == 1 & mallopt(M_TRIM_THRESHOLD, TrimThreshold) == 1
                & mallopt(M_TOP_PAD, TopPad) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", ExactSpelling = true)]
    private static extern int mallopt(int param, int value);

    [DllImport("libc", ExactSpelling = true)]
    private static extern IntPtr gnu_get_libc_version();
}
