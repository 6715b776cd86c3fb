using System.Text;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>Recognises common files that are not audio (or audio of an unsupported kind) by their first bytes, so the
/// error says what the file is. The supported formats are recognised by <see cref="AudioFormats"/>.</summary>
internal static class FileSignatures
{
    /// <summary>What the file looks like ("a PNG image", "an MP4/M4A file, which is not supported", "text"), or null when unknown.</summary>
    public static string? Describe(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47])) return "a PNG image";
        if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])) return "a JPEG image";
        if (head.StartsWith("GIF8"u8)) return "a GIF image";
        if (head.Length >= 8 && head[4..8].SequenceEqual("ftyp"u8)) return "an MP4/M4A file, which is not supported";
        if (head.StartsWith((ReadOnlySpan<byte>)[0x50, 0x4B, 0x03, 0x04])) return "a ZIP archive";
        if (head.StartsWith("%PDF"u8)) return "a PDF document";
        if (IsText(head)) return "text";
        return null;
    }

    /// <summary>A RIFF chunk id is four printable ASCII characters.</summary>
    public static bool IsChunkId(ReadOnlySpan<byte> id)
    {
        foreach (byte b in id)
            if (b < 0x20 || b > 0x7E)
                return false;
        return id.Length == 4;
    }

    /// <summary>The chunk id as text, for messages.</summary>
    public static string ChunkId(ReadOnlySpan<byte> id) => IsChunkId(id) ? Encoding.ASCII.GetString(id) : Hex(id);

    /// <summary>Bytes as "89 50 4E 47".</summary>
    public static string Hex(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length * 3);
        foreach (byte b in bytes)
            text.Append(text.Length == 0 ? "" : " ").Append(b.ToString("X2"));
        return text.ToString();
    }

    private static bool IsText(ReadOnlySpan<byte> head)
    {
        if (head.Length == 0)
            return false;
        if (head.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            return true;
        foreach (byte b in head)
            if (b is not (>= 0x20 and < 0x7F) and not (byte)'\t' and not (byte)'\n' and not (byte)'\r')
                return false;
        return true;
    }
}
