namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// The one place where an application opts into process-wide settings of the libraries under TorchSharp. This library
/// never makes them on its own: they change every computation of the process, the application's own TorchSharp models
/// included, so they are the application's choice, made once at start-up (as PyTorch leaves
/// <c>torch.backends.cudnn.allow_tf32</c> or <c>torch.set_num_threads</c> to the application).
/// </summary>
/// <remarks>
/// Each setting, what it does and what was measured, is in README.md ("Process-wide settings"). Call
/// <see cref="Configure"/> before any other TorchSharp work: oneDNN reads its instruction-set limit once, when the
/// process's first convolution runs.
/// </remarks>
/// <example>
/// <code>
/// KapreRuntime.Configure(new KapreRuntimeOptions { KeepFreedCpuMemory = true, DisableNnpack = true });
/// </code>
/// </example>
public static class KapreRuntime
{
    private static readonly object Gate = new();
    private static readonly List<string> Applied = [];

    /// <summary>Applies the settings <paramref name="options"/> asks for (the others are left as they are) and returns
    /// what was done, as <see cref="Describe"/> does.</summary>
    public static string Configure(KapreRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (Gate)
        {
            // First: it must precede oneDNN's first primitive, and the others load libtorch.
            if (options.OneDnnMaxInstructionSet is OneDnnInstructionSet isa)
                Applied.Add(OneDnnIsa.Limit(isa)
                    ? $"oneDNN limited to {OneDnnIsa.Name(isa)} (ONEDNN_MAX_CPU_ISA set in the process environment)"
                    : $"oneDNN's limit {OneDnnIsa.Name(isa)} not set (only on Linux)");
            if (options.DisableNnpack)
                Applied.Add(Nnpack.Disable() ? "NNPACK off in libtorch" : "NNPACK left on (libtorch's setting was not found)");
            if (options.KeepFreedCpuMemory)
            {
                CpuAllocator.Configure();
                Applied.Add(CpuAllocator.Describe());
            }
            return Describe();
        }
    }

    /// <summary>A sentence for logs: the settings applied in this process, or that there are none.</summary>
    public static string Describe()
    {
        lock (Gate)
            return Applied.Count == 0 ? "no process-wide settings (KapreRuntime.Configure was not called)" : string.Join("; ", Applied.Distinct());
    }
}

/// <summary>Process-wide settings an application may opt into with <see cref="KapreRuntime.Configure"/>; each is off by
/// default.</summary>
public sealed class KapreRuntimeOptions
{
    /// <summary>
    /// The most advanced instruction set oneDNN (libtorch's CPU convolution backend) may use, through its
    /// <c>ONEDNN_MAX_CPU_ISA</c> variable; null (default) leaves oneDNN to choose. A workaround for CPUs where its kernels
    /// compute wrong results (measured in the past on an AMD EPYC with AVX-512, not reproduced since); it slows
    /// convolutions (README.md has both measurements). Only before the process's first convolution, and only on Linux.
    /// </summary>
    public OneDnnInstructionSet? OneDnnMaxInstructionSet { get; set; }

    /// <summary>
    /// Turn libtorch's NNPACK convolution backend off for the process. Desktop libtorch never runs NNPACK while oneDNN is
    /// on (oneDNN takes every batch NNPACK would), but it asks for it at each convolution oneDNN declines (single rows,
    /// as a PredictionEngine scores) and, where NNPACK cannot initialise, logs "Could not initialize NNPACK! Reason:
    /// Unsupported hardware." each time; off, it no longer asks. Default false.
    /// </summary>
    public bool DisableNnpack { get; set; }

    /// <summary>
    /// Keep freed CPU tensor memory in the process for reuse (glibc <c>mallopt</c>: mmap threshold 32 MiB, trim threshold
    /// 256 MiB, top pad 32 MiB). libtorch otherwise returns each large buffer to the operating system and faults its pages
    /// back in on the next batch: for log-mel spectrograms of 64 clips × 1 s, 6 ms of a 10 ms batch on 2 cores. The cost
    /// is memory that stays with the process (up to 256 MiB above what is in use). Linux with glibc only. Default false.
    /// </summary>
    public bool KeepFreedCpuMemory { get; set; }
}

/// <summary>oneDNN's instruction-set limits (<c>ONEDNN_MAX_CPU_ISA</c>), from the oldest.</summary>
public enum OneDnnInstructionSet
{
    /// <summary>SSE 4.1.</summary>
    Sse41,
    /// <summary>AVX.</summary>
    Avx,
    /// <summary>AVX2.</summary>
    Avx2,
    /// <summary>AVX-512 (the core subset, without VNNI or bfloat16).</summary>
    Avx512Core,
}
