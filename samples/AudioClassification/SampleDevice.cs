namespace AudioClassification;

/// <summary>
/// The one line the samples print about the device: which one their MLContext's settings give on this machine. The CPU
/// is the normal case (most machines have no CUDA device, or the app has the CPU backend), so it is information, not a
/// warning; the library's per-component device messages stay in MLContext.Log.
/// </summary>
public static class SampleDevice
{
    /// <summary>Where the library will run for these MLContext settings (it resolves them the same way).</summary>
    /// <param name="gpuDeviceId">MLContext.GpuDeviceId: null for the CPU.</param>
    /// <param name="fallbackToCpu">MLContext.FallbackToCpu.</param>
    public static string Describe(int? gpuDeviceId, bool fallbackToCpu)
    {
        if (gpuDeviceId is not int gpu) return "Device: CPU (--device cpu).";
        bool cuda = TorchSharp.torch.cuda.is_available();
        if (cuda && gpu < TorchSharp.torch.cuda.device_count()) return $"Device: CUDA device {gpu}.";
        string why = cuda ? $"there is no CUDA device {gpu}" : "no CUDA device, or the app has TorchSharp's CPU backend";
        return fallbackToCpu
            ? $"Device: CPU ({why}; CUDA device {gpu} is used when there is one)."
            : $"Device: CUDA device {gpu} was asked for, but {why}.";
    }
}
