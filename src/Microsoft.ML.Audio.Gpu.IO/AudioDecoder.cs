using System.Globalization;
using NAudio.Wave;

namespace Microsoft.ML.Audio.Gpu.IO;

/// <summary>
/// Decodes audio files (WAV, FLAC, MP3, Ogg Vorbis, Ogg Opus, AIFF) from a file, bytes or a stream into an
/// <see cref="AudioBuffer"/>: float samples, optionally mixed to mono, resampled and cut or padded to a fixed length.
/// </summary>
/// <remarks>
/// <para><b>Formats</b>, recognised by their first bytes, never by the file name:</para>
/// <list type="bullet">
/// <item>WAV: RIFF/WAVE and RF64/BW64 files holding 8-bit (unsigned), 16-, 24- or 32-bit integer PCM, 32- or 64-bit
/// IEEE float, or 8-bit mu-law / A-law (G.711), plain or in WAVE_FORMAT_EXTENSIBLE, any number of channels.</item>
/// <item>FLAC (native, <c>fLaC</c>, also after an ID3v2 tag): 4 to 32 bits, 1 to 8 channels, decoded by this
/// library bit for bit as <c>flac -d</c> decodes; frame CRCs and the STREAMINFO MD5 are checked.</item>
/// <item>MP3 (MPEG-1/2/2.5 layers I to III), decoded by NLayer; LAME/Xing gapless information removes the encoder
/// delay and padding.</item>
/// <item>Ogg Vorbis (NVorbis) and Ogg Opus (Concentus, 48 kHz, pre-skip and output gain applied); the granule
/// position of the last page ends the audio. Channels come in WAV order (L, R, C, LFE, ...).</item>
/// <item>AIFF and AIFF-C: big-endian PCM of 1 to 32 bits, and <c>sowt</c>, <c>fl32</c>, <c>fl64</c>, <c>ulaw</c>,
/// <c>alaw</c>, <c>raw</c>.</item>
/// </list>
/// <para>Integer PCM is scaled as NAudio scales WAV (<c>s / 2^(bits − 1)</c> of its container, 8-bit unsigned as
/// <c>s / 128 − 1</c>), so it lies in <c>[-1, 1)</c>; G.711 decodes to 16-bit values scaled the same way; float data
/// and the lossy decoders' output are kept as they come. Other files (MP4/M4A, Ogg FLAC, ADPCM WAV, ...) are rejected
/// with an <see cref="AudioDecodeException"/> that names what they look like. Measured agreement with reference
/// decoders and decoding speeds: <c>docs/decoding.md</c>.</para>
/// <para><b>Processing.</b> Decode, then average the channels when <see cref="AudioDecodeOptions.Mono"/>, then
/// resample when <see cref="AudioDecodeOptions.SampleRate"/> differs from the file's rate, then pad with zeros or crop
/// to <see cref="AudioDecodeOptions.DurationSeconds"/>. The whole file resampled has
/// <c>round(frames · outRate / inRate)</c> frames (halves up); output frame <c>n</c> is the signal at time
/// <c>n / outRate</c>, with no delay. With a duration, only the source frames that output needs are read (plus the
/// resampler's half-length, <see cref="ResamplerHalfLength"/>), so a crop of a long file reads little of it;
/// the first frames of a cropped decode equal those of the whole-file decode exactly.</para>
/// <para><b>Resampling.</b> A Kaiser-windowed sinc (β = 10, 64 zero crossings each side, cutoff at 0.95 of the
/// lower Nyquist frequency, unit gain at DC), evaluated at exact rational positions; rate pairs that reduce to at most
/// 1280 phases use a precomputed phase bank, others compute their weights per frame (slower, same quality). Its
/// measured quality and speed, and why NAudio's resampler was not used: <c>docs/decoding.md</c>.</para>
/// <para><b>Bad input.</b> Every failure is an <see cref="AudioDecodeException"/> naming the source and the reason;
/// the original exception, if any, is its <see cref="Exception.InnerException"/>. Nothing is truncated or zero-filled
/// silently:</para>
/// <list type="bullet">
/// <item>a missing, unreadable or empty (0-byte) file, or one of no supported format (the message says what it looks
/// like: PNG, MP4, text, ...);</item>
/// <item>in the compressed formats: a corrupt frame or packet (a FLAC CRC, a decoder's failure), a stream that ends
/// before the length its header declares (FLAC STREAMINFO, a LAME tag), a FLAC MD5 mismatch;</item>
/// <item>a header that is cut off, lacks a fmt or data chunk, or declares 0 channels, a 0 Hz sample rate, an
/// unsupported bit depth (0, 7, 12, ...) or a block align other than <c>channels × bits / 8</c>;</item>
/// <item>a data chunk whose declared size exceeds the bytes present ("the header declares N bytes of audio data but
/// only M are present"), is not a whole number of frames, or ends in a partial frame;</item>
/// <item>NaN or infinite samples in float data, naming the first bad frame and channel.</item>
/// </list>
/// <para><b>Placeholder sizes.</b> Recorders that stream (to a pipe or a growing file) cannot fill in the data size
/// before they finish. A data size of 0, 0xFFFFFFFF, or 0x7FFFF000 (what SoX writes to a pipe) is taken as "unknown":
/// everything to the end of the stream is audio, which must then be a whole number of frames. Any other declared size is
/// trusted only as far as the bytes present: when the source can seek (files, bytes) it is checked before decoding;
/// a forward-only stream fails when it ends early, unless a duration stopped the read before that point. The RIFF
/// size field is not used (streaming writers leave it wrong too); chunks after the data chunk are ignored.</para>
/// <para><b>Resources.</b> Sizes read from a header never drive an allocation before they are checked against the
/// bytes present; with a forward-only stream the output grows as data arrives. Decode is stateless and thread-safe.
/// Streams passed in are read from their current position and not disposed.</para>
/// </remarks>
public static class AudioDecoder
{
    /// <summary>Samples converted per block: bounds the working memory whatever the file's length or channel count.</summary>
    private const int BlockSamples = 1 << 16;

    /// <summary>Decodes an audio file of any supported format.</summary>
    /// <param name="path">Path of the file; it is named in every error.</param>
    /// <param name="options">Output rate, channels and length.</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    /// <exception cref="AudioDecodeException">The file is missing, unreadable, of no supported format, or corrupt.</exception>
    public static AudioBuffer Decode(string path, AudioDecodeOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        try
        {
            if (Directory.Exists(path))
                throw new DecodeFailure("the path is a directory");
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
            return DecodeAny(file, options);
        }
        catch (Exception e) when (Describe(e) is string reason)
        {
            throw new AudioDecodeException(path, reason, e is DecodeFailure failure ? failure.InnerException : e);
        }
    }

    /// <summary>Decodes the bytes of an audio file (for instance a column of raw file contents).</summary>
    /// <param name="data">The whole file; it is not copied.</param>
    /// <param name="sourceName">A name for the bytes (a path, a key), used in error messages.</param>
    /// <param name="options">Output rate, channels and length.</param>
    /// <exception cref="ArgumentNullException"><paramref name="sourceName"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    /// <exception cref="AudioDecodeException">The bytes are empty, of no supported format, or corrupt.</exception>
    public static AudioBuffer Decode(ReadOnlyMemory<byte> data, string sourceName, AudioDecodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return DecodeGuarded(new ReadOnlyMemoryStream(data), sourceName, options);
    }

    /// <summary>Decodes an audio stream from its current position; the stream is not disposed.</summary>
    /// <param name="stream">A readable stream. It need not seek: every format is read forward only.</param>
    /// <param name="sourceName">A name for the stream, used in error messages.</param>
    /// <param name="options">Output rate, channels and length.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> cannot be read.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the exception names it).</exception>
    /// <exception cref="AudioDecodeException">The stream is empty, of no supported format, corrupt, or fails to read.</exception>
    public static AudioBuffer Decode(Stream stream, string sourceName, AudioDecodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentNullException.ThrowIfNull(options);
        if (!stream.CanRead)
            throw new ArgumentException("stream must be readable", nameof(stream));
        options.Validate();
        return DecodeGuarded(stream, sourceName, options);
    }

    /// <summary>
    /// Input frames the resampler reads past the input position of the last output frame, for a rate conversion:
    /// with a duration, a decode reads at most <c>(frames − 1) · inRate / outRate + 1 + this</c> source frames.
    /// 0 when the rates are equal.
    /// </summary>
    /// <param name="inputRate">The file's sample rate.</param>
    /// <param name="outputRate">The requested sample rate.</param>
    public static int ResamplerHalfLength(int inputRate, int outputRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputRate);
        return inputRate == outputRate ? 0 : new SincResampler(1, inputRate, outputRate).Taps / 2;
    }

    private static AudioBuffer DecodeGuarded(Stream stream, string sourceName, AudioDecodeOptions options)
    {
        try
        {
            return DecodeAny(stream, options);
        }
        catch (Exception e) when (Describe(e) is string reason)
        {
            throw new AudioDecodeException(sourceName, reason, e is DecodeFailure failure ? failure.InnerException : e);
        }
    }

    /// <summary>
    /// The reason to report for a failure while decoding, or null for exceptions that are not about the audio
    /// (out of memory, a bug) and must pass through unchanged.
    /// </summary>
    private static string? Describe(Exception e) => e switch
    {
        DecodeFailure failure => failure.Reason,
        AudioDecodeException => null,
        FileNotFoundException => "file not found",
        DirectoryNotFoundException => "directory not found",
        UnauthorizedAccessException => "access denied",
        EndOfStreamException => "the data ends unexpectedly",
        IOException io => $"read error: {io.Message}",
        // NAudio reports bad headers and data with these.
        InvalidDataException or FormatException or ArgumentException or OverflowException => $"invalid audio data: {e.Message}",
        _ => null,
    };

    private static AudioBuffer DecodeAny(Stream stream, AudioDecodeOptions options)
    {
        using var source = AudioFormats.Open(stream);
        AudioBuffer audio;
        if (options.Crop == CropAlignment.Loudest && options.DurationSeconds is double seconds && seconds < options.SearchSeconds)
        {
            var searched = DecodeCore(source, new AudioDecodeOptions { SampleRate = options.SampleRate, Mono = options.Mono, DurationSeconds = options.SearchSeconds });
            audio = LoudestWindow(searched, (int)Math.Round(seconds * searched.SampleRate));
        }
        else
        {
            audio = DecodeCore(source, options);
        }
        return options.Pad == PadAlignment.Center ? Centered(audio) : audio;
    }

    /// <summary>A padded clip (<see cref="AudioBuffer.AudioFrames"/> short of <see cref="AudioBuffer.Frames"/>) moved to
    /// the middle, in place: half the padding before it, the odd frame after.</summary>
    internal static AudioBuffer Centered(AudioBuffer audio)
    {
        int valid = audio.AudioFrames, frames = audio.Frames, before = (frames - valid) / 2;
        if (before == 0) return audio;
        for (int c = 0; c < audio.Channels; c++)
        {
            var channel = audio.Samples.AsSpan(c * frames, frames);
            channel[..valid].CopyTo(channel[before..]);   // overlapping copy: Span.CopyTo handles it as memmove
            channel[..before].Clear();
        }
        return audio;
    }

    /// <summary>
    /// The <paramref name="frames"/>-long window of <paramref name="audio"/> with the most energy (all channels summed),
    /// within its decoded audio; when the audio is shorter, its start (zero-padded).
    /// </summary>
    internal static AudioBuffer LoudestWindow(AudioBuffer audio, int frames)
    {
        int valid = audio.AudioFrames, channels = audio.Channels;
        int start = 0;
        if (valid > frames)
        {
            // Running energy over a sliding window: O(valid · channels).
            double energy = 0, best;
            for (int c = 0; c < channels; c++)
            {
                var ch = audio.GetChannel(c);
                for (int t = 0; t < frames; t++) energy += (double)ch[t] * ch[t];
            }
            best = energy;
            for (int t = frames; t < valid; t++)
            {
                for (int c = 0; c < channels; c++)
                {
                    var ch = audio.GetChannel(c);
                    energy += (double)ch[t] * ch[t] - (double)ch[t - frames] * ch[t - frames];
                }
                if (energy > best * (1 + 1e-12)) { best = energy; start = t - frames + 1; }
            }
        }
        var samples = new float[(long)channels * frames];
        int copy = Math.Min(frames, audio.Frames - start);
        for (int c = 0; c < channels; c++)
            audio.GetChannel(c).Slice(start, copy).CopyTo(samples.AsSpan(c * frames, copy));
        return new AudioBuffer(samples, channels, audio.SampleRate) { AudioFrames = Math.Min(frames, Math.Max(0, valid - start)) };
    }

    private static AudioBuffer DecodeCore(AudioSource source, AudioDecodeOptions options)
    {
        int inChannels = source.Channels;
        int outChannels = options.Mono ? 1 : inChannels;
        int inRate = source.SampleRate;
        int outRate = options.SampleRate ?? inRate;
        int blockFrames = Math.Max(1, BlockSamples / inChannels);
        var resampler = inRate == outRate ? null : new SincResampler(outChannels, inRate, outRate, blockFrames);

        long? target = null;
        long readLimit = long.MaxValue;
        if (options.DurationSeconds is double seconds)
        {
            double frames = Math.Round(seconds * outRate);
            if (frames * outChannels > Array.MaxLength)
                throw new DecodeFailure(string.Create(CultureInfo.InvariantCulture,
                    $"DurationSeconds {seconds} at {outRate} Hz is {frames} frames of {outChannels} channels, more than the {Array.MaxLength} samples one array holds"));
            target = (long)frames;
            readLimit = resampler?.InputFramesNeeded(target.Value) ?? target.Value;
            source.LimitFrames(readLimit);
        }
        long? expected = target;
        if (expected is null && source.KnownFrames is long known)
            expected = resampler is null ? known : SincResampler.OutputLength(known, inRate, outRate);
        var output = new PlanarBuilder(outChannels, expected);

        var interleaved = new float[blockFrames * inChannels];
        float[][]? planar = resampler is null ? null : Enumerable.Range(0, outChannels).Select(_ => new float[blockFrames]).ToArray();
        long framesRead = 0;
        while (true)
        {
            int frames = source.Read(interleaved.AsSpan()) / inChannels;
            if (frames == 0)
                break;
            if (resampler is null)
            {
                output.EnsureCapacity(output.Frames + (long)frames);
                for (int c = 0; c < outChannels; c++)
                    Layout(interleaved, frames, inChannels, options.Mono, c, output.Channel(c).Slice(output.Frames, frames));
                output.Frames += frames;
            }
            else
            {
                for (int c = 0; c < outChannels; c++)
                    Layout(interleaved, frames, inChannels, options.Mono, c, planar![c]);
                resampler.Write(planar!, frames, output, target ?? long.MaxValue);
            }
            framesRead += frames;
        }

        long length, audioFrames;
        if (resampler is null)
        {
            length = target ?? framesRead;
            audioFrames = Math.Min(framesRead, length);
        }
        else
        {
            // Stopped by the limit: the target is reached. At the end of the input: up to its resampled length.
            long natural = framesRead == readLimit ? long.MaxValue : SincResampler.OutputLength(framesRead, inRate, outRate);
            long due = Math.Min(target ?? long.MaxValue, natural);
            resampler.Finish(output, due);
            // Only the part of a fixed duration past the end of the audio may be zero-filled, never a missing tail.
            if (output.Frames != due)
                throw new InvalidOperationException($"The resampler produced {output.Frames} frames where {due} were due: a bug, please report it.");
            length = target ?? natural;
            audioFrames = Math.Min(natural, length);
        }
        output.EnsureCapacity(length);
        var buffer = output.ToBuffer((int)length, outRate);
        return new AudioBuffer(buffer.Samples, buffer.Channels, buffer.SampleRate) { AudioFrames = (int)audioFrames };
    }

    /// <summary>Output channel <paramref name="channel"/> of an interleaved block: the average of all channels for
    /// mono, otherwise that channel's samples.</summary>
    private static void Layout(float[] interleaved, int frames, int channels, bool mono, int channel, Span<float> destination)
    {
        if (!mono || channels == 1)
        {
            for (int i = 0, k = channel; i < frames; i++, k += channels)
                destination[i] = interleaved[k];
        }
        else if (channels == 2)
        {
            for (int i = 0; i < frames; i++)
                destination[i] = (interleaved[2 * i] + interleaved[2 * i + 1]) * 0.5f;
        }
        else
        {
            for (int i = 0, k = 0; i < frames; i++)
            {
                float sum = 0;
                for (int c = 0; c < channels; c++, k++)
                    sum += interleaved[k];
                destination[i] = sum / channels;
            }
        }
    }
}
