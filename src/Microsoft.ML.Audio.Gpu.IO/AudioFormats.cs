namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Recognises a file's format by its first bytes (never by its name) and opens the matching decoder. The bytes read
/// to decide are replayed to the decoder (<see cref="PrefixedStream"/>), so streams that cannot seek work and no
/// byte is read twice.
/// </summary>
internal static class AudioFormats
{
    /// <summary>The formats named in messages about unsupported files.</summary>
    internal const string Supported = "WAV, FLAC, MP3, Ogg Vorbis, Ogg Opus and AIFF/AIFF-C";

    /// <summary>Bytes read to recognise a format: an Ogg page header with its segment table and 8 bytes of packet.</summary>
    private const int HeadBytes = 27 + 255 + 8;

    /// <summary>Opens <paramref name="stream"/> (at its current position) with the decoder its content calls for.</summary>
    /// <exception cref="DecodeFailure">The stream is empty, of an unsupported format, or its header is bad.</exception>
    public static AudioSource Open(Stream stream)
    {
        var head = new byte[HeadBytes];
        int got = Fill(stream, head, 0, 12);
        if (got == 0)
            throw new DecodeFailure("the file is empty (0 bytes)");
        var start = head.AsSpan(0, Math.Min(4, got));
        if ("RIFF"u8.StartsWith(start) || "RF64"u8.StartsWith(start) || "BW64"u8.StartsWith(start))
            return new WavSource(WavReader.Open(new PrefixedStream(stream, head, got)));
        if (start.SequenceEqual("fLaC"u8))
            return FlacReader.Open(new PrefixedStream(stream, head, got));
        if (start.SequenceEqual("FORM"u8))
            return AiffReader.Open(new PrefixedStream(stream, head, got));
        if (start.SequenceEqual("OggS"u8))
            return OpenOgg(stream, head, got);
        if (got >= 10 && head.AsSpan().StartsWith("ID3"u8))
            return AfterId3(stream, head, got);
        if (IsMpegSync(head.AsSpan(0, got)))
            return Mp3Source.Open(new PrefixedStream(stream, head, got));
        string? kind = FileSignatures.Describe(head.AsSpan(0, got));
        throw new DecodeFailure(kind is null
            ? $"not a supported audio file: it starts with {FileSignatures.Hex(start)} ({Supported} are supported)"
            : $"not a supported audio file: it looks like {kind} (starts with {FileSignatures.Hex(start)})");
    }

    private static bool IsMpegSync(ReadOnlySpan<byte> head)
        => head.Length >= 4 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0 && (head[1] >> 1 & 3) != 0 && (head[2] >> 4) != 15;

    /// <summary>An ID3v2 tag opens most MP3 files (and some FLAC files): skip it, then look at what follows.</summary>
    private static AudioSource AfterId3(Stream stream, byte[] head, int got)
    {
        long tagBytes = 10 + (long)((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F))
                        + ((head[5] & 0x10) != 0 ? 10 : 0);
        if (tagBytes <= got)
        {
            Buffer.BlockCopy(head, (int)tagBytes, head, 0, got - (int)tagBytes);
            got -= (int)tagBytes;
        }
        else
        {
            long skipped = got + Skip(stream, tagBytes - got);
            if (skipped < tagBytes)
                throw new DecodeFailure($"the file is cut off inside its ID3 tag, which declares {tagBytes} bytes but only {skipped} are present");
            got = 0;
        }
        got = Fill(stream, head, got, 12);
        if (got == 0)
            throw new DecodeFailure($"the file holds only an ID3 tag ({tagBytes} bytes), no audio");
        if (got >= 4 && head.AsSpan(0, 4).SequenceEqual("fLaC"u8))
            return FlacReader.Open(new PrefixedStream(stream, head, got));
        // MP3 (writers may pad between the tag and the first frame: the frame search skips it).
        return Mp3Source.Open(new PrefixedStream(stream, head, got));
    }

    /// <summary>Ogg carries many codecs: the first packet of the first page says which.</summary>
    private static AudioSource OpenOgg(Stream stream, byte[] head, int got)
    {
        got = Fill(stream, head, got, 27);
        if (got < 27)
            throw new DecodeFailure($"the Ogg page header is cut off: the file has only {got} bytes");
        int packet = 27 + head[26];
        got = Fill(stream, head, got, packet + 8);
        var first = head.AsSpan(Math.Min(packet, got), Math.Max(0, Math.Min(8, got - packet)));
        var prefixed = new PrefixedStream(stream, head, got);
        if (first.StartsWith("\u0001vorbis"u8))
            return VorbisSource.Open(prefixed);
        if (first.StartsWith("OpusHead"u8))
            return OpusSource.Open(prefixed);
        string codec = first.StartsWith("\u007FFLAC"u8) ? "FLAC" : first.StartsWith("Speex"u8) ? "Speex"
            : first.StartsWith("\u0080theora"u8) ? "Theora video" : first.Length == 0 ? "nothing" : $"an unknown codec (its first packet starts with {FileSignatures.Hex(first)})";
        throw new DecodeFailure($"an Ogg file holding {codec}, which is not supported (Ogg Vorbis and Ogg Opus are)");
    }

    /// <summary>Reads until <paramref name="head"/> holds <paramref name="want"/> bytes or the stream ends.</summary>
    private static int Fill(Stream stream, byte[] head, int have, int want)
    {
        while (have < want)
        {
            int n = stream.Read(head, have, want - have);
            if (n == 0)
                break;
            have += n;
        }
        return have;
    }

    private static long Skip(Stream stream, long count)
    {
        if (count <= 0)
            return 0;
        if (stream.CanSeek)
        {
            long step = Math.Min(count, Math.Max(0, stream.Length - stream.Position));
            stream.Seek(step, SeekOrigin.Current);
            return step;
        }
        long done = 0;
        var scratch = new byte[4096];
        while (done < count)
        {
            int n = stream.Read(scratch, 0, (int)Math.Min(scratch.Length, count - done));
            if (n == 0)
                break;
            done += n;
        }
        return done;
    }
}
