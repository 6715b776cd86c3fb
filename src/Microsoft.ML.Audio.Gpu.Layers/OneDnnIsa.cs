using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Keeps libtorch's oneDNN on its AVX kernels. On AMD EPYC processors with AVX-512 (avx512_bf16), the oneDNN in libtorch
/// 2.10 returns wrong convolutions with its AVX-512 kernels (NaN rows and 40-90% errors in the speech embedding against
/// ONNX Runtime, wrong conv gradients in the training workout), and its AVX2 kernels still give a NaN input gradient in
/// about 1 of 5,000 backward passes of a small Conv2d (4 of 20,000 measured); capped at AVX, 0 of 20,000, and that
/// Conv2d's backward ran 5x faster. oneDNN reads the variable once, at its first primitive, so it is set in the native
/// environment (Environment.SetEnvironmentVariable only changes .NET's copy) when this assembly loads; a value the user
/// set is kept.
/// </summary>
internal static class OneDnnIsa
{
#pragma warning disable CA2255 // the setting must precede libtorch's first convolution, whatever the caller runs first
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Apply()
    {
        if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
            _ = setenv("ONEDNN_MAX_CPU_ISA", "AVX", 0);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
