using System.Runtime.InteropServices;

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// The one bulk copy each way between managed arrays and tensors. TorchSharp's <c>tensor(float[])</c> and
/// <c>data&lt;float&gt;().CopyTo</c> copy element by element: for a batch of 64 one-second log-mel spectrograms
/// (414 thousand floats) <c>CopyTo</c> took 1.8 ms against 0.035 ms for a span copy of the tensor's bytes.
/// </summary>
internal static class TensorCopy
{
    /// <summary>A tensor of <paramref name="data"/> on <paramref name="device"/>: on the CPU it wraps the array (no copy;
    /// keep the array unchanged while the tensor lives), elsewhere one host-to-device copy.</summary>
    public static Tensor FromArray(float[] data, long[] shape, Device device) => FromArray(data, 0, data.LongLength, shape, device);

    /// <summary>As <see cref="FromArray(float[], long[], Device)"/> over <paramref name="count"/> values of
    /// <paramref name="data"/> from <paramref name="offset"/> (a pooled array may be longer than the batch).</summary>
    public static Tensor FromArray(float[] data, long offset, long count, long[] shape, Device device)
    {
        var t = from_array(data);
        if (offset != 0 || count != data.LongLength) t = t.narrow(0, offset, count);
        t = t.reshape(shape);
        return device.type == DeviceType.CPU ? t : t.to(device);
    }

    /// <summary>Copies a tensor's values into <paramref name="destination"/> at <paramref name="offset"/>, moving it to the
    /// CPU and making it contiguous first if needed.</summary>
    public static void CopyTo(Tensor source, float[] destination, long offset = 0)
    {
        using var scope = NewDisposeScope();
        var t = source;
        if (t.device_type != DeviceType.CPU) t = t.cpu();
        if (t.dtype != ScalarType.Float32) t = t.to(ScalarType.Float32);
        if (!t.is_contiguous()) t = t.contiguous();
        MemoryMarshal.Cast<byte, float>(t.bytes).CopyTo(destination.AsSpan((int)offset));
    }
}
