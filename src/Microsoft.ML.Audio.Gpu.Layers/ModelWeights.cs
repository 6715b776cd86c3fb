namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// The one tensor serializer of the saved models: a module's parameters and buffers as raw tensors (no pickle, nothing
/// that executes code), checking every name, type and shape against the module built from the saved hyperparameters
/// before reading any data; and a single float32 matrix (the transforms' filterbank streams).
/// </summary>
internal static class ModelWeights
{
    // *** Binary format ***
    // int: tensor count
    // per tensor: string name, byte type (1 = float32, 2 = int64), int rank, rank x long dims, then the values, little-endian
    public static void Save(BinaryWriter writer, nn.Module module)
    {
        var entries = module.state_dict();
        writer.Write(entries.Count);
        foreach (var (name, tensor) in entries)
        {
            using var cpu = HostCopy.Of(tensor);
            writer.Write(name);
            switch (cpu.dtype)
            {
                case ScalarType.Float32:
                    writer.Write((byte)1);
                    WriteShape(writer, cpu.shape);
                    WriteFloats(writer, cpu);
                    break;
                case ScalarType.Int64:
                    writer.Write((byte)2);
                    WriteShape(writer, cpu.shape);
                    foreach (long v in cpu.data<long>()) writer.Write(v);
                    break;
                default:
                    throw new InvalidOperationException($"Cannot save tensor '{name}' of type {cpu.dtype}.");
            }
        }
    }

    private static void WriteShape(BinaryWriter writer, long[] shape)
    {
        writer.Write(shape.Length);
        foreach (long d in shape) writer.Write(d);
    }

    /// <summary>Reads weights into <paramref name="module"/>; throws <see cref="InvalidDataException"/> naming the first
    /// tensor that is missing, unknown, of another type or shape, or cut short.</summary>
    public static void Load(BinaryReader reader, nn.Module module)
    {
        var expected = module.state_dict();
        int count = reader.ReadInt32();
        if (count != expected.Count)
            throw new InvalidDataException($"The model's weights hold {count} tensors; the network its settings describe has {expected.Count}.");
        var seen = new HashSet<string>();
        using var _ = no_grad();
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            if (!expected.TryGetValue(name, out var target))
                throw new InvalidDataException($"The model's weights hold a tensor '{name}' that the network does not have.");
            if (!seen.Add(name))
                throw new InvalidDataException($"The model's weights hold tensor '{name}' twice.");
            byte type = reader.ReadByte();
            var wantType = target.dtype == ScalarType.Float32 ? 1 : target.dtype == ScalarType.Int64 ? 2 : 0;
            if (type != wantType)
                throw new InvalidDataException($"Tensor '{name}' is stored as type {type}; the network needs {target.dtype}.");
            int rank = reader.ReadInt32();
            if (rank != target.dim())
                throw new InvalidDataException($"Tensor '{name}' is stored with {rank} dimensions; the network needs [{string.Join(", ", target.shape)}].");
            var dims = new long[rank];
            for (int d = 0; d < rank; d++) dims[d] = reader.ReadInt64();
            if (!dims.SequenceEqual(target.shape))
                throw new InvalidDataException($"Tensor '{name}' is stored as [{string.Join(", ", dims)}]; the network needs [{string.Join(", ", target.shape)}].");
            long n = target.numel();
            long bytes = n * (type == 1 ? 4 : 8);
            if (reader.BaseStream.CanSeek && reader.BaseStream.Length - reader.BaseStream.Position < bytes)
                throw new InvalidDataException($"Tensor '{name}' is cut short: {bytes} bytes needed, {reader.BaseStream.Length - reader.BaseStream.Position} left.");
            if (type == 1)
            {
                using var t = tensor(ReadFloats(reader, n), dims);
                target.copy_(t);
            }
            else
            {
                var values = new long[n];
                for (long k = 0; k < n; k++) values[k] = reader.ReadInt64();
                using var t = tensor(values, dims);
                target.copy_(t);
            }
        }
    }

    // *** Binary format of a matrix (the transforms' filterbank streams) ***
    // int: rows, int: columns, then rows x columns float32, row-major, little-endian
    public static void SaveMatrix(BinaryWriter writer, Tensor matrix)
    {
        using var cpu = HostCopy.Of(matrix, ScalarType.Float32);
        writer.Write((int)cpu.shape[0]);
        writer.Write((int)cpu.shape[1]);
        WriteFloats(writer, cpu);
    }

    /// <summary>Reads a matrix, checking its shape against the one the settings need before allocating; throws
    /// <see cref="InvalidDataException"/> when it differs.</summary>
    public static float[] LoadMatrix(BinaryReader reader, int rows, int cols, string what)
    {
        int r = reader.ReadInt32(), c = reader.ReadInt32();
        if (r != rows || c != cols)
            throw new InvalidDataException($"The model's {what} is [{r}, {c}] but its settings need [{rows}, {cols}].");
        return ReadFloats(reader, (long)rows * cols);
    }

    private static void WriteFloats(BinaryWriter writer, Tensor cpuFloat32)
    {
        foreach (float v in cpuFloat32.data<float>()) writer.Write(v);
    }

    private static float[] ReadFloats(BinaryReader reader, long n)
    {
        var values = new float[n];
        for (long k = 0; k < n; k++) values[k] = reader.ReadSingle();
        return values;
    }
}
