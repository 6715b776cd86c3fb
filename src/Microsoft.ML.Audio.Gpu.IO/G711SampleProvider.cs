using NAudio.Wave;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Mu-law or A-law (ITU-T G.711) bytes to floats: each byte becomes the standard 16-bit linear value (the
/// ±32124 / ±32256 scale of the reference g711.c), scaled by 1/32768 like 16-bit PCM.
/// </summary>
/// <remarks>The tables are computed here from G.711's segment/mantissa rule. NAudio's <c>MuLawDecoder</c> table differs in
/// one entry (0x7F, negative zero, gives −1 instead of 0), so it is not used.</remarks>
internal sealed class G711SampleProvider(IWaveProvider source, bool aLaw) : ISampleProvider
{
    /// <summary>Each mu-law byte as a float (AIFC's ulaw reads it too).</summary>
    internal static readonly float[] MuLawTable = Table(MuLaw);
    /// <summary>Each A-law byte as a float.</summary>
    internal static readonly float[] ALawTable = Table(ALaw);

    private readonly float[] table = aLaw ? ALawTable : MuLawTable;
    private byte[] bytes = [];

    /// <summary>IEEE float at the source's rate and channel count.</summary>
    public WaveFormat WaveFormat { get; } = WaveFormat.CreateIeeeFloatWaveFormat(source.WaveFormat.SampleRate, source.WaveFormat.Channels);

    /// <summary>Decodes one byte per sample; returns the samples written.</summary>
    public int Read(Span<float> buffer)
    {
        if (bytes.Length < buffer.Length)
            bytes = new byte[buffer.Length];
        int count = source.Read(bytes.AsSpan(0, buffer.Length));
        for (int i = 0; i < count; i++)
            buffer[i] = table[bytes[i]];
        return count;
    }

    private static float[] Table(Func<byte, int> decode)
    {
        var table = new float[256];
        for (int b = 0; b < 256; b++)
            table[b] = decode((byte)b) / 32768f;
        return table;
    }

    /// <summary>Mu-law: bits are inverted; sign, 3-bit segment, 4-bit step; bias 0x84.</summary>
    private static int MuLaw(byte code)
    {
        int u = ~code & 0xFF;
        int magnitude = ((((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84;
        return (u & 0x80) != 0 ? -magnitude : magnitude;
    }

    /// <summary>A-law: even bits are inverted (xor 0x55); sign set means positive; segment 0 is linear.</summary>
    private static int ALaw(byte code)
    {
        int a = code ^ 0x55;
        int segment = (a >> 4) & 7, step = a & 0x0F;
        int magnitude = segment == 0 ? (step << 4) + 8 : ((step << 4) + 0x108) << (segment - 1);
        return (a & 0x80) != 0 ? magnitude : -magnitude;
    }
}
