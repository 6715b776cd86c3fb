using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Keeps libtorch's oneDNN on its AVX2 kernels. On AMD EPYC processors with AVX-512 (avx512_bf16), the oneDNN in
/// libtorch 2.10 returns wrong convolutions with its AVX-512 kernels: NaN rows and 40-90% errors in the speech
/// embedding against ONNX Runtime, wrong conv gradients in the training workout; with ONEDNN_MAX_CPU_ISA=AVX2 every
/// one of those tests passes. oneDNN reads the variable once, at its first primitive, so it is set in the native
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
            _ = setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 0);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
