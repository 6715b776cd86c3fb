namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Replays the bytes already read to recognise a format, then reads on from the wrapped stream: format detection
/// works on streams that cannot seek, and never reads a byte twice (so a decode's reads stay exactly what it needs).
/// Seekable when the wrapped stream is; positions are the wrapped stream's. The wrapped stream is not disposed.
/// </summary>
internal sealed class PrefixedStream : Stream
{
    private readonly Stream inner;
    private readonly byte[] prefix;
    private readonly int prefixLength;
    private readonly long start;   // the wrapped stream's position of the first prefix byte (seekable streams)
    private int prefixPosition;

    /// <summary>Wraps <paramref name="inner"/>, whose first <paramref name="prefixLength"/> bytes were read into <paramref name="prefix"/>.</summary>
    public PrefixedStream(Stream inner, byte[] prefix, int prefixLength)
    {
        this.inner = inner;
        this.prefix = prefix;
        this.prefixLength = prefixLength;
        if (inner.CanSeek)
            start = inner.Position - prefixLength;
    }

    public override bool CanRead => true;
    public override bool CanSeek => inner.CanSeek;
    public override bool CanWrite => false;
    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position - (prefixLength - prefixPosition);
        set
        {
            if (value >= start && value <= start + prefixLength)
            {
                inner.Position = start + prefixLength;
                prefixPosition = (int)(value - start);
            }
            else
            {
                inner.Position = value;
                prefixPosition = prefixLength;
            }
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (prefixPosition < prefixLength)
        {
            int n = Math.Min(buffer.Length, prefixLength - prefixPosition);
            prefix.AsSpan(prefixPosition, n).CopyTo(buffer);
            prefixPosition += n;
            return n;
        }
        return inner.Read(buffer);
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => Position + offset,
        SeekOrigin.End => Length + offset,
        _ => throw new ArgumentOutOfRangeException(nameof(origin), origin, "origin must be Begin, Current or End"),
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
