using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Turns libtorch's NNPACK convolution backend off. Desktop libtorch only picks NNPACK for batches of 16 or more that
/// oneDNN does not take, and oneDNN takes every such batch, so NNPACK never runs; but libtorch asks whether NNPACK is
/// available at every convolution oneDNN declines (single rows: PredictionEngine), and where NNPACK cannot initialise
/// (this project's build and CI machines: "Unsupported hardware") it logs a warning line each time, 24 lines in the
/// sample's six predictions. Switched off, libtorch no longer asks. TorchSharp has no binding for the setting, so it is
/// set through libtorch's own C++ entry points (Itanium ABI, Linux); where they are missing nothing changes.
/// </summary>
internal static class Nnpack
{
    private static int _done;

    /// <summary>Switches NNPACK off once per process. Call after libtorch is loaded (any TorchSharp call loads it).</summary>
    public static void Disable()
    {
        if (Interlocked.Exchange(ref _done, 1) == 1 || !OperatingSystem.IsLinux()) return;
        try
        {
            setUserEnabledNNPACK(globalContext(), false);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Another libtorch build: the warnings stay, nothing else changes.
        }
    }

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr globalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void setUserEnabledNNPACK(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
}
