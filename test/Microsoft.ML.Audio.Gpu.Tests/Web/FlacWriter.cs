namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>
/// The smallest valid FLAC encoder: 16-bit mono, every subframe VERBATIM (no compression), fixed 4096-sample blocks,
/// STREAMINFO without an MD5 (all zeros: "unknown", which decoders skip). Enough to send a class of examples as FLAC,
/// as issue 33's done-when does; the tests check that the library decodes it to the samples written.
/// Format: https://xiph.org/flac/format.html (RFC 9639).
/// </summary>
internal static class FlacWriter
{
    private const int BlockSize = 4096;

    public static byte[] Mono16(short[] samples, int sampleRate)
    {
        var output = new BitWriter();
        output.Bytes("fLaC"u8);
        // METADATA_BLOCK_HEADER: last block, type 0 (STREAMINFO), 34 bytes.
        output.Bits(1, 1); output.Bits(0, 7); output.Bits(34, 24);
        output.Bits(BlockSize, 16); output.Bits(BlockSize, 16);   // min and max block size (the last may be shorter)
        output.Bits(0, 24); output.Bits(0, 24);                   // min and max frame size: unknown
        output.Bits((ulong)sampleRate, 20); output.Bits(0, 3);    // rate; channels - 1
        output.Bits(15, 5); output.Bits((ulong)samples.Length, 36); // bits per sample - 1; total samples
        output.Bytes(new byte[16]);                               // MD5: unknown
        for (int frame = 0; frame * BlockSize < samples.Length; frame++)
        {
            int start = frame * BlockSize, count = Math.Min(BlockSize, samples.Length - start);
            int frameStart = output.Length;
            output.Bits(0b11111111111110, 14); output.Bits(0, 1); output.Bits(0, 1); // sync, reserved, fixed block size
            output.Bits(0b0111, 4);                                  // block size: 16 bits (minus one) after the header
            output.Bits(0b0000, 4);                                  // sample rate: STREAMINFO's
            output.Bits(0b0000, 4);                                  // one channel
            output.Bits(0b100, 3); output.Bits(0, 1);                // 16 bits per sample, reserved
            output.Utf8(frame);                                      // frame number, UTF-8 coded
            output.Bits((ulong)(count - 1), 16);
            output.Bits(Crc8(output.Span(frameStart)), 8);
            output.Bits(0, 1); output.Bits(0b000001, 6); output.Bits(0, 1); // subframe: VERBATIM, no wasted bits
            for (int i = 0; i < count; i++) output.Bits((ushort)samples[start + i], 16);
            output.Align();
            output.Bits(Crc16(output.Span(frameStart)), 16);
        }
        return output.ToArray();
    }

    private static byte Crc8(ReadOnlySpan<byte> data)
    {
        int crc = 0;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 0x80) != 0 ? ((crc << 1) ^ 0x07) & 0xFF : (crc << 1) & 0xFF;
        }
        return (byte)crc;
    }

    private static ushort Crc16(ReadOnlySpan<byte> data)
    {
        int crc = 0;
        foreach (byte b in data)
        {
            crc ^= b << 8;
            for (int k = 0; k < 8; k++) crc = (crc & 0x8000) != 0 ? ((crc << 1) ^ 0x8005) & 0xFFFF : (crc << 1) & 0xFFFF;
        }
        return (ushort)crc;
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = [];
        private int _pending, _pendingBits;

        public int Length => _bytes.Count;

        public ReadOnlySpan<byte> Span(int from) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_bytes)[from..];

        public void Bits(ulong value, int count)
        {
            for (int i = count - 1; i >= 0; i--)
            {
                _pending = (_pending << 1) | (int)((value >> i) & 1);
                if (++_pendingBits == 8)
                {
                    _bytes.Add((byte)_pending);
                    (_pending, _pendingBits) = (0, 0);
                }
            }
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes) Bits(b, 8);
        }

        public void Align()
        {
            if (_pendingBits > 0) Bits(0, 8 - _pendingBits);
        }

        /// <summary>FLAC's frame number coding: UTF-8's scheme for values up to 2^31.</summary>
        public void Utf8(int value)
        {
            if (value < 0x80) Bits((ulong)value, 8);
            else if (value < 0x800) { Bits(0xC0 | (ulong)(value >> 6), 8); Bits(0x80 | (ulong)(value & 0x3F), 8); }
            else { Bits(0xE0 | (ulong)(value >> 12), 8); Bits(0x80 | (ulong)((value >> 6) & 0x3F), 8); Bits(0x80 | (ulong)(value & 0x3F), 8); }
        }

        public byte[] ToArray() => [.. _bytes];
    }
}
