using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Turns libtorch's NNPACK convolution backend off, for <see cref="KapreRuntime.Configure"/> (an application's choice:
/// the setting is the whole process's). Desktop libtorch only picks NNPACK for batches of 16 or more that oneDNN does
/// not take, and oneDNN takes every such batch, so NNPACK never runs; but libtorch asks whether NNPACK is available at
/// every convolution oneDNN declines (single rows: PredictionEngine), and where NNPACK cannot initialise (this project's
/// build and CI machines: "Unsupported hardware") it logs a warning line each time, 24 lines in the sample's six
/// predictions. Switched off, libtorch no longer asks. TorchSharp has no binding for the setting, so it is set through
/// libtorch's own C++ entry points (Itanium ABI, Linux); where they are missing nothing changes.
/// </summary>
internal static class Nnpack
{
    /// <summary>Switches NNPACK off; false where libtorch's entry points are missing.</summary>
    public static bool Disable()
    {
        if (!OperatingSystem.IsLinux()) return false;
        torch.InitializeDeviceType(DeviceType.CPU); // loads libtorch
        try
        {
            setUserEnabledNNPACK(globalContext(), false);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // another libtorch build: the warnings stay, nothing else changes
        }
    }

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr globalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void setUserEnabledNNPACK(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
}
