namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// A decoding failure found by this library's own checks, before the source name is attached. <see cref="AudioDecoder"/>
/// turns it into an <see cref="AudioDecodeException"/> with the same reason; it never escapes the library.
/// </summary>
internal sealed class DecodeFailure(string reason, Exception? innerException = null) : Exception(reason, innerException)
{
    /// <summary>What was wrong, as a sentence fragment.</summary>
    public string Reason { get; } = reason;
}
