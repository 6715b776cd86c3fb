using NVorbis.Contracts;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// The packets of the first logical stream of an Ogg file, read by NVorbis's Ogg container reader, with the checks
/// that make a damaged or cut-off file fail instead of decoding shorter: NVorbis ends a stream quietly at a page whose
/// checksum fails or at the end of the bytes, so a packet after a gap (a lost page) and an end without the stream's
/// last page (its end-of-stream flag) are reported here. Serves both Vorbis (through <c>VorbisReader</c>) and Opus.
/// </summary>
internal sealed class OggPackets : IPacketProvider, IDisposable
{
    private readonly NVorbis.Ogg.ContainerReader container;
    private readonly IPacketProvider packets;
    private bool sawEnd, started;

    /// <summary>Opens the container and its first logical stream.</summary>
    /// <exception cref="DecodeFailure">No Ogg stream could be found.</exception>
    public OggPackets(Stream stream)
    {
        IPacketProvider? first = null;
        container = new NVorbis.Ogg.ContainerReader(stream, closeOnDispose: false)
        {
            NewStreamCallback = provider => { first ??= provider; return true; },
        };
        if (!container.TryInit() || first is null)
            throw new DecodeFailure("no Ogg stream found");
        packets = first;
    }

    public bool CanSeek => false;

    public int StreamSerial => packets.StreamSerial;

    public IPacket? GetNextPacket() => Check(packets.GetNextPacket());

    public IPacket? PeekNextPacket() => packets.PeekNextPacket();

    public long SeekTo(long granulePos, int preRoll, GetPacketGranuleCount getPacketGranuleCount)
        => throw new NotSupportedException("decoding reads forward only");

    public long GetGranuleCount() => throw new NotSupportedException("decoding reads forward only");

    public void Dispose() => container.Dispose();

    private IPacket? Check(IPacket? packet)
    {
        if (packet is null)
        {
            if (!sawEnd)
                throw new DecodeFailure("the Ogg stream ends without its last page: the file is cut off, or a page is damaged");
            return null;
        }
        if (packet.IsResync && started)
            throw new DecodeFailure("a page of the Ogg stream is missing or damaged");
        started = true;
        sawEnd |= packet.IsEndOfStream;
        return packet;
    }
}
