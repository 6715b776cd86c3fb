namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>Comparing TorchSharp devices.</summary>
internal static class Devices
{
    /// <summary>
    /// Whether two devices are the same. TorchSharp 0.107's <see cref="torch.Device"/> has no value equality and
    /// <c>tensor.device</c> makes a new object per call, so comparing two devices with the operator is always false: every
    /// constant would be copied again on every call. This compares the type and the index instead. An index of -1
    /// ("the current device", what <c>new Device("cuda")</c> holds) is taken as 0, the device a tensor created on
    /// "cuda" reports; the CPU has one device whatever its index says.
    /// </summary>
    public static bool SameDevice(torch.Device a, torch.Device b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.type != b.type) return false;
        if (a.type == DeviceType.CPU) return true;
        return Math.Max(a.index, 0) == Math.Max(b.index, 0);
    }
}
