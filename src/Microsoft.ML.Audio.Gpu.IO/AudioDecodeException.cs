namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Audio could not be decoded. The message names the source (a path, or the name the caller gave) and the reason:
/// <c>Cannot decode audio '{SourceName}': {Reason}</c>.
/// </summary>
/// <remarks>
/// <para><see cref="Exception.InnerException"/> is the original failure when there was one (NAudio's
/// <see cref="FormatException"/>, a <see cref="FileNotFoundException"/>, an <see cref="IOException"/> from the
/// stream, ...).</para>
/// <para>It derives from <see cref="IOException"/>, like the file errors it wraps and like ML.NET's image loader errors:
/// <see cref="InvalidDataException"/>, the other natural base, is sealed.</para>
/// </remarks>
public sealed class AudioDecodeException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="sourceName">The path or name of the audio that failed.</param>
    /// <param name="reason">What was wrong, as a sentence fragment (e.g. "file not found").</param>
    /// <param name="innerException">The original exception, if any.</param>
    public AudioDecodeException(string sourceName, string reason, Exception? innerException = null)
        : base($"Cannot decode audio '{sourceName}': {reason}", innerException)
    {
        SourceName = sourceName;
        Reason = reason;
    }

    /// <summary>The path, or the name the caller gave for bytes and streams.</summary>
    public string SourceName { get; }

    /// <summary>What was wrong, without the source name.</summary>
    public string Reason { get; }
}
