namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// An offline spectrogram layer (<see cref="Stft"/>, <see cref="MelSpectrogram"/>, optionally followed by
/// <see cref="Mfcc"/> or any other per-frame stage) run over audio that arrives in chunks: <see cref="Push"/> takes
/// chunks of any size and returns the frames they complete, <see cref="Flush"/> ends the stream; together they give the
/// frames the offline layer gives on the whole signal, in order: the same FFT of the same samples (the STFT's frames are
/// bit-identical; after a filterbank, whose product sums in another order for another number of frames, within 1.5e-7
/// of the largest value).
/// </summary>
/// <remarks>
/// <para>Mono: a chunk is <c>(time)</c> samples. Output: <c>(features, new frames)</c> on the layer's device, where
/// features are the layer's (bins, mels or coefficients); a chunk that completes no frame gives 0 frames.</para>
/// <para>Latency: a frame is returned as soon as its last sample has arrived, <see cref="LatencySamples"/> after the
/// sample it is centred on for <see cref="FramePadding.Center"/> (<c>n_fft / 2</c>). The frames that need the end of
/// the signal (the centred framing's last frames, <see cref="FramePadding.PadEnd"/>'s padded ones) come from
/// <see cref="Flush"/>.</para>
/// <para>What cannot be streamed is refused when the stream is made: <see cref="FramePadding.Same"/> (its first
/// padding depends on the signal's length) and a decibel stage with <c>top_db</c> (its floor is the whole signal's
/// maximum minus <c>top_db</c>; use a layer without it, or floor the frames yourself).</para>
/// <example><code>
/// using var melspec = AudioLayers.MelSpectrogram(16000, n_fft: 512, win_length: 400, hop_length: 160, n_mels: 64, to_db: true);
/// using var stream = StreamingSpectrogram.For(melspec);
/// foreach (var chunk in microphoneChunks) Consume(stream.Push(chunk)); // (64, frames so far completed)
/// Consume(stream.Flush());
/// </code></example>
/// </remarks>
public sealed class StreamingSpectrogram : IDisposable
{
    private readonly Stft _stft;
    private readonly nn.Module<Tensor, Tensor>? _after;
    private readonly long _left;
    private readonly bool _reflect;            // centred framing with reflect padding: the ends mirror the signal
    private float[] _buffer = new float[4096]; // the padded signal from position _bufferStart on
    private int _count;                        // samples held in _buffer
    private long _bufferStart;                 // padded-signal position of _buffer[0]
    private long _received;                    // samples of the signal pushed so far
    private long _next;                        // next frame to return
    private readonly float[] _head;            // the signal's first samples, which the first frame mirrors
    private long[]? _emptyShape;
    private bool _started, _flushed, _disposed;

    private StreamingSpectrogram(Stft stft, nn.Module<Tensor, Tensor>? after)
    {
        if (stft.padding == FramePadding.Same)
            throw new ArgumentException("FramePadding.Same cannot be streamed: its first padding depends on the length of the whole signal. " +
                "Use Center, NoCenter, Valid, PadBegin, PadEnd or PadBeginAndEnd.", nameof(stft));
        _stft = stft;
        _after = after;
        _left = Functional.frame_layout(0, stft.n_fft, stft.hop_length, stft.win_length, stft.padding).left;
        _reflect = stft.padding == FramePadding.Center && stft.pad_mode == PadMode.Reflect;
        _head = new float[_reflect ? _left + 1 : 0];
    }

    /// <summary>Streams an STFT layer, optionally followed by per-frame stages (a filterbank, decibels without
    /// <c>top_db</c>, a DCT, ...) given as one module.</summary>
    /// <param name="stft">The offline STFT; the stream uses its settings and window (not owned: dispose it yourself).</param>
    /// <param name="perFrame">Stages applied to the STFT's output that act on each frame alone, or null (not owned).</param>
    public static StreamingSpectrogram For(Stft stft, nn.Module<Tensor, Tensor>? perFrame = null)
        => new(stft ?? throw new ArgumentNullException(nameof(stft)), perFrame);

    /// <summary>Streams a mel spectrogram layer, optionally followed by <paramref name="mfcc"/>.</summary>
    /// <param name="melspec">The offline layer (not owned); its decibel stage, if any, must have no <c>top_db</c>.</param>
    /// <param name="mfcc">A DCT applied to each log-mel frame, or null (not owned).</param>
    public static StreamingSpectrogram For(MelSpectrogram melspec, Mfcc? mfcc = null)
    {
        ArgumentNullException.ThrowIfNull(melspec);
        if (melspec.db?.top_db is double top)
            throw new ArgumentException($"The mel spectrogram's decibel stage has top_db = {top}: its floor is the whole signal's maximum " +
                "minus top_db, which a stream does not know until it ends. Stream a layer made with top_db: null.", nameof(melspec));
        return new(melspec.stft, new PerFrame(melspec, mfcc));
    }

    /// <summary>Samples from a frame's centre (its first sample for the uncentred framings) to its last sample: how long
    /// after a sample the frame centred on it is returned.</summary>
    public long LatencySamples => _stft.n_fft - 1 - (_stft.padding == FramePadding.Center ? _left : 0);

    /// <summary>Frames returned so far.</summary>
    public long FramesReturned => _next;

    /// <summary>Adds samples of the signal and returns the frames they complete, <c>(features, frames)</c>.</summary>
    public Tensor Push(ReadOnlySpan<float> samples)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_flushed) throw new InvalidOperationException("The stream has been flushed; make a new one for a new signal.");
        if (!_started && _head.Length == 0) Start();
        if (_started)
        {
            Append(samples);
            _received += samples.Length;
        }
        else
        {
            // The centred framing's first frame mirrors samples 1..n_fft/2 around sample 0: start once they are here.
            int toHead = (int)Math.Min(samples.Length, _head.Length - _received);
            samples[..toHead].CopyTo(_head.AsSpan((int)_received));
            _received += samples.Length;
            if (_received >= _head.Length)
            {
                Start();
                Append(_head);
                Append(samples[toHead..]);
            }
        }
        long ready = _started ? FramesWithin(_bufferStart + _count) : 0;
        return Frames(ready - _next);
    }

    /// <summary>Ends the signal: returns the frames that need its end (the padding after it), as the offline layer
    /// computes them for the whole length.</summary>
    public Tensor Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_flushed) throw new InvalidOperationException("The stream has already been flushed.");
        _flushed = true;
        var (_, right, frames) = Functional.frame_layout(_received, _stft.n_fft, _stft.hop_length, _stft.win_length, _stft.padding);
        if (frames < 1 || (_reflect && _received <= _left))
            throw new InvalidOperationException($"The stream ended after {_received} samples, fewer than one frame of n_fft = {_stft.n_fft} " +
                $"needs with {_stft.padding} framing{(_reflect ? " and reflect padding" : "")}.");
        if (right > 0)
        {
            var tail = new float[right];
            if (_reflect)
                for (long j = 0; j < right; j++) tail[j] = _buffer[checked((int)(_received - 2 - j + _left - _bufferStart))];
            Append(tail);
        }
        return Frames(frames - _next);
    }

    /// <summary>Frames that lie wholly within the first <paramref name="paddedLength"/> samples of the padded signal.</summary>
    private long FramesWithin(long paddedLength)
        => paddedLength >= _stft.n_fft ? 1 + (paddedLength - _stft.n_fft) / _stft.hop_length : 0;

    private void Start()
    {
        _started = true;
        var pad = new float[_left];
        if (_reflect)
            for (long i = 0; i < _left; i++) pad[i] = _head[_left - i];
        Append(pad);
    }

    private void Append(ReadOnlySpan<float> samples)
    {
        if (_count + samples.Length > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _count + samples.Length));
        samples.CopyTo(_buffer.AsSpan(_count));
        _count += samples.Length;
    }

    /// <summary>Computes the next <paramref name="n"/> frames from the buffer and drops the samples nothing needs any
    /// more (with reflect padding the last n_fft / 2 + 1 samples stay: the end mirrors them).</summary>
    private Tensor Frames(long n)
    {
        long hop = _stft.hop_length, nfft = _stft.n_fft;
        if (n <= 0)
        {
            // The per-frame stages decide the feature count: ask them once, with one frame of silence.
            if (_emptyShape is null)
            {
                using var one = Compute(new float[nfft], 1);
                _emptyShape = [one.shape[0], 0];
            }
            return empty(_emptyShape, dtype: _stft.output == SpectrumType.Complex ? ScalarType.ComplexFloat32 : ScalarType.Float32,
                device: _stft.Window.device);
        }
        int offset = checked((int)(_next * hop - _bufferStart));
        int span = checked((int)((n - 1) * hop + nfft));
        var result = Compute(_buffer.AsSpan(offset, span).ToArray(), n);
        _next += n;
        long keepFrom = _next * hop;
        if (_reflect && !_flushed) keepFrom = Math.Min(keepFrom, _left + _received - (_left + 1));
        int drop = checked((int)Math.Clamp(keepFrom - _bufferStart, 0, _count));
        Array.Copy(_buffer, drop, _buffer, 0, _count - drop);
        _count -= drop;
        _bufferStart += drop;
        return result;
    }

    /// <summary>The offline layer's STFT over a stretch of the padded signal, uncentred (its padding is already in the
    /// samples), then the per-frame stages.</summary>
    private Tensor Compute(float[] padded, long frames)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var window = _stft.Window;
        var x = tensor(padded, device: window.device);
        var spec = Functional.stft(x, _stft.n_fft, _stft.hop_length, window, FramePadding.NoCenter, _stft.pad_mode);
        spec = _stft.output switch
        {
            SpectrumType.Power => Functional.power(spec),
            SpectrumType.Magnitude => Functional.magnitude(spec),
            _ => spec,
        };
        if (spec.shape[^1] != frames) throw new InvalidOperationException($"computed {spec.shape[^1]} frames, expected {frames}");
        if (_after is not null) spec = _after.call(spec);
        return spec.MoveToOuterDisposeScope();
    }

    /// <summary>Releases the buffers (the layers stay the caller's).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_after is PerFrame p) p.Dispose();
    }

    /// <summary>A mel spectrogram's stages after its STFT (filterbank, decibels), then an optional DCT.</summary>
    private sealed class PerFrame : nn.Module<Tensor, Tensor>
    {
        private readonly MelSpectrogram _melspec;
        private readonly Mfcc? _mfcc;

        public PerFrame(MelSpectrogram melspec, Mfcc? mfcc) : base("perframe")
        {
            _melspec = melspec;
            _mfcc = mfcc;
        }

        public override Tensor forward(Tensor spectrum)
        {
            using var scope = NewDisposeScope();
            var x = _melspec.mel.call(spectrum);
            if (_melspec.db is not null) x = _melspec.db.call(x);
            if (_mfcc is not null) x = _mfcc.call(x);
            return x.MoveToOuterDisposeScope();
        }

        // The layers belong to the caller: dispose nothing of theirs.
        protected override void Dispose(bool disposing) { }
    }
}
