using System.Buffers.Binary;
using System.IO.Compression;

namespace AudioClassification;

/// <summary>Writes a matrix as a colour PNG (viridis-like map), low rows at the bottom, as spectrograms are drawn.</summary>
internal static class PngWriter
{
    // Anchor colours of matplotlib's viridis at 0, 0.25, 0.5, 0.75, 1.
    private static readonly (double r, double g, double b)[] Anchors =
        [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)];

    public static void WriteSpectrogram(string path, float[] values, int rows, int cols, int scale = 2)
    {
        float min = values.Min(), max = values.Max();
        float span = max > min ? max - min : 1;
        int width = cols, height = rows * scale;
        var raw = new byte[height * (1 + width * 3)];
        for (int y = 0; y < height; y++)
        {
            int row = rows - 1 - y / scale; // low frequencies at the bottom
            int o = y * (1 + width * 3);
            raw[o++] = 0; // filter: none
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = Colour((values[row * cols + x] - min) / span);
                raw[o++] = r; raw[o++] = g; raw[o++] = b;
            }
        }

        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; header[9] = 2; // 8-bit RGB
        Chunk(file, "IHDR", header);
        using (var compressed = new MemoryStream())
        {
            using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw);
            Chunk(file, "IDAT", compressed.ToArray());
        }
        Chunk(file, "IEND", []);
    }

    private static (byte, byte, byte) Colour(double t)
    {
        t = Math.Clamp(t, 0, 1) * (Anchors.Length - 1);
        int i = Math.Min((int)t, Anchors.Length - 2);
        double f = t - i;
        var (a, b) = (Anchors[i], Anchors[i + 1]);
        return ((byte)(a.r + (b.r - a.r) * f), (byte)(a.g + (b.g - a.g) * f), (byte)(a.b + (b.b - a.b) * f));
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(four, data.Length);
        s.Write(four);
        var typed = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, typed);
        data.CopyTo(typed, 4);
        s.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(four, Crc32(typed));
        s.Write(four);
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte d in data)
        {
            crc ^= d;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }
}
