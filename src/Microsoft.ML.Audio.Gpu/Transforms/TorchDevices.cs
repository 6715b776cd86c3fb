namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Device choice, in one place, following ML.NET's convention (<see cref="MLContext.GpuDeviceId"/>,
/// <see cref="MLContext.FallbackToCpu"/>): CUDA device N when GpuDeviceId is N and it exists; the CPU when GpuDeviceId is
/// null, or when the GPU is missing and fallback is allowed; an exception otherwise.
/// </summary>
internal static class TorchDevices
{
    /// <summary>Whether a transform's cursors read the next batch's rows while the current one is computed on
    /// <paramref name="device"/>: on a GPU, whose work leaves the host's cores free for the reading (decoding upstream);
    /// not on the CPU, where the kernels and the decoding would share the same cores. <paramref name="requested"/>
    /// overrides the choice (tests).</summary>
    public static bool ReadsAhead(Device device, bool? requested = null) => requested ?? device.type != DeviceType.CPU;

    public static Device Resolve(IHostEnvironment env, string component)
    {
        // Every transform, trainer and loaded model passes here first: libtorch is loaded. Its process-wide settings are
        // the application's to make (KapreRuntime.Configure), never this library's.
        torch.InitializeDeviceType(DeviceType.CPU);
        var settings = env as IHostEnvironmentInternal;
        int? gpu = settings?.GpuDeviceId;
        bool fallback = settings?.FallbackToCpu ?? false;
        using var ch = env.Start(component);

        if (gpu is null)
        {
            ch.Info($"{component}: running on the CPU (MLContext.GpuDeviceId is not set).");
            return CPU;
        }
        if (gpu < 0)
            throw new ArgumentOutOfRangeException(nameof(MLContext.GpuDeviceId), gpu, $"MLContext.GpuDeviceId must be a CUDA device index (0 or more), got: {gpu}");

        string? problem = null;
        if (!cuda.is_available())
            problem = "CUDA is not available (no CUDA device, or TorchSharp's CPU-only native backend is in use)";
        else if (gpu >= cuda.device_count())
            problem = $"there are only {cuda.device_count()} CUDA device(s)";

        if (problem is null)
        {
            ch.Info($"{component}: running on CUDA device {gpu}.");
            return new Device(DeviceType.CUDA, gpu.Value);
        }
        if (fallback)
        {
            // Information, not a warning: FallbackToCpu is the application saying the CPU will do ("CUDA device 0 when
            // there is one"), and on most machines there is none. ML.NET's ONNX and TorchSharp components fall back silently.
            ch.Info($"{component}: GPU {gpu} was requested but {problem}; running on the CPU (MLContext.FallbackToCpu).");
            return CPU;
        }
        throw new InvalidOperationException(
            $"{component}: GPU {gpu} was requested (MLContext.GpuDeviceId) but {problem}. " +
            "Set MLContext.FallbackToCpu = true to run on the CPU instead, or clear GpuDeviceId.");
    }
}
