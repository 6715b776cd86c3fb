using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// oneDNN's instruction-set limit, for <see cref="KapreRuntime.Configure"/> (an application's choice, never made by this
/// library on its own). oneDNN reads <c>ONEDNN_MAX_CPU_ISA</c> once, at its first primitive, from the C library's
/// environment: <c>Environment.SetEnvironmentVariable</c> only changes .NET's copy, so it is set with libc's
/// <c>setenv</c>. oneDNN's own <c>dnnl_set_max_cpu_isa</c> is not exported by libtorch.
/// </summary>
internal static class OneDnnIsa
{
    public static string Name(OneDnnInstructionSet isa) => isa switch
    {
        OneDnnInstructionSet.Sse41 => "SSE41",
        OneDnnInstructionSet.Avx => "AVX",
        OneDnnInstructionSet.Avx2 => "AVX2",
        OneDnnInstructionSet.Avx512Core => "AVX512_CORE",
        _ => throw new ArgumentOutOfRangeException(nameof(isa), isa, $"isa must be a defined OneDnnInstructionSet, got: {isa}"),
    };

    /// <summary>Sets the limit; false where it cannot be set (not Linux).</summary>
    public static bool Limit(OneDnnInstructionSet isa)
    {
        string name = Name(isa);
        if (!OperatingSystem.IsLinux()) return false;
        return setenv("ONEDNN_MAX_CPU_ISA", name, 1) == 0;
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
