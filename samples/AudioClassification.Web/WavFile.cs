using System.Buffers.Binary;

namespace AudioClassification.Web;

/// <summary>Writes mono WAV files: the warm-up clip of a model, and the clips a training cuts from its uploads.</summary>
public static class WavFile
{
    /// <summary>Mono 32-bit float WAV (format tag 3) of <paramref name="samples"/>: the decoder's output kept exactly, so
    /// the training reads what the upload's check decoded.</summary>
    public static byte[] Float32(ReadOnlySpan<float> samples, int sampleRate)
    {
        var wav = new byte[44 + 4 * samples.Length];
        Header(wav, sampleRate, formatTag: 3, bitsPerSample: 32, samples.Length);
        for (int i = 0; i < samples.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(wav.AsSpan(44 + 4 * i), samples[i]);
        return wav;
    }

    /// <summary>Mono 16-bit PCM WAV of <paramref name="samples"/> (clipped to [-1, 1]).</summary>
    public static byte[] Pcm16(ReadOnlySpan<float> samples, int sampleRate)
    {
        var wav = new byte[44 + 2 * samples.Length];
        Header(wav, sampleRate, formatTag: 1, bitsPerSample: 16, samples.Length);
        for (int i = 0; i < samples.Length; i++)
        {
            float s = Math.Clamp(samples[i], -1f, 1f);
            BinaryPrimitives.WriteInt16LittleEndian(wav.AsSpan(44 + 2 * i), (short)(s < 0 ? s * 32768 : s * 32767));
        }
        return wav;
    }

    /// <summary>RIFF header, fmt chunk (16 bytes: no extension), data chunk header: 44 bytes.</summary>
    private static void Header(Span<byte> wav, int sampleRate, short formatTag, short bitsPerSample, int frames)
    {
        int bytesPerFrame = bitsPerSample / 8, dataBytes = bytesPerFrame * frames;
        "RIFF"u8.CopyTo(wav);
        BinaryPrimitives.WriteInt32LittleEndian(wav[4..], 36 + dataBytes);
        "WAVEfmt "u8.CopyTo(wav[8..]);
        BinaryPrimitives.WriteInt32LittleEndian(wav[16..], 16);                          // fmt chunk size
        BinaryPrimitives.WriteInt16LittleEndian(wav[20..], formatTag);                   // 1 PCM, 3 IEEE float
        BinaryPrimitives.WriteInt16LittleEndian(wav[22..], 1);                           // mono
        BinaryPrimitives.WriteInt32LittleEndian(wav[24..], sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(wav[28..], bytesPerFrame * sampleRate);  // bytes per second
        BinaryPrimitives.WriteInt16LittleEndian(wav[32..], (short)bytesPerFrame);        // block align
        BinaryPrimitives.WriteInt16LittleEndian(wav[34..], bitsPerSample);
        "data"u8.CopyTo(wav[36..]);
        BinaryPrimitives.WriteInt32LittleEndian(wav[40..], dataBytes);
    }
}
