using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>An n-dimensional array read from NumPy's .npy format (C order), as float32.</summary>
public sealed record NpyArray(float[] Data, long[] Shape)
{
    public long Length => Data.LongLength;
}

/// <summary>Reads NumPy .npy files (format 1.0–3.0) holding little-endian float32 or float64 in C order.</summary>
public static partial class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static NpyArray Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new InvalidDataException($"{path}: not a .npy file");
        int major = bytes[6];
        int headerLength, offset;
        if (major == 1) { headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)); offset = 10; }
        else { headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)); offset = 12; }
        var header = Encoding.Latin1.GetString(bytes, offset, headerLength);
        offset += headerLength;

        var descr = DescrRegex().Match(header).Groups[1].Value;
        if (FortranRegex().Match(header).Groups[1].Value != "False")
            throw new InvalidDataException($"{path}: Fortran order is not supported");
        var shapeText = ShapeRegex().Match(header).Groups[1].Value;
        long[] shape = [.. shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                                    .Select(s => long.Parse(s, CultureInfo.InvariantCulture))];
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var data = new float[count];
        var payload = bytes.AsSpan(offset);
        switch (descr)
        {
            case "<f4":
                for (long i = 0; i < count; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(payload[(int)(i * 4)..]);
                break;
            case "<f8":
                for (long i = 0; i < count; i++) data[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(payload[(int)(i * 8)..]);
                break;
            default:
                throw new InvalidDataException($"{path}: dtype {descr} is not supported (float32 or float64 little-endian)");
        }
        return new NpyArray(data, shape);
    }

    [GeneratedRegex(@"'descr':\s*'([^']+)'")] private static partial Regex DescrRegex();
    [GeneratedRegex(@"'fortran_order':\s*(True|False)")] private static partial Regex FortranRegex();
    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")] private static partial Regex ShapeRegex();
}
