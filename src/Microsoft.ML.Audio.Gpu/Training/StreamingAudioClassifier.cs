using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>Settings of <see cref="StreamingAudioClassifier"/>.</summary>
public sealed class StreamingClassifierOptions
{
    /// <summary>Audio in each scored window. Default null: the model's clip length (its LoadAudio's DurationSeconds);
    /// required for a model that does not start with LoadAudio.</summary>
    public double? WindowSeconds { get; set; }

    /// <summary>Time between window starts. Default 0.25 s.</summary>
    public double HopSeconds { get; set; } = 0.25;

    // The three defaults below were chosen on recordings of real speakers (docs/streaming.md: 200 Speech Commands words
    // of speakers each fold's model never heard, between real room recordings): of every setting with at most one false
    // alarm a minute, the one that found the most words (90.5%, 0.64 false alarms a minute; 2, 0.6 and 0.4 gave 89.0%, 0.86).

    /// <summary>Windows whose class probabilities are averaged before a decision (1: no smoothing). Default 3.</summary>
    public int SmoothingWindows { get; set; } = 3;

    /// <summary>Smoothed probability of a class that starts a detection. Default 0.5.</summary>
    public double Threshold { get; set; } = 0.5;

    /// <summary>Smoothed probability under which a detection ends (below <see cref="Threshold"/>, so a score wavering
    /// around the threshold does not split a word). Default 0.375.</summary>
    public double ReleaseThreshold { get; set; } = 0.375;

    /// <summary>Classes that are never reported (background, silence, unknown). Default null: those whose name starts
    /// with '_' (Speech Commands' <c>_background_noise_</c>, <c>_silence_</c>, <c>_unknown_</c>) or is
    /// "silence", "background" or "noise".</summary>
    public IReadOnlyCollection<string>? IgnoredClasses { get; set; }

    /// <summary>The voice-activity gate before the classifier: a window is scored only when some of its audio stands out
    /// from the background (<see cref="VoiceActivityGate"/>); quieter windows count as background, cost almost nothing
    /// and raise no alarm. Default on; null scores every window.</summary>
    public VoiceActivityGateOptions? VoiceActivityGate { get; set; } = new();

    /// <summary>For a model that does not start with LoadAudio: its audio column (a vector of Single). Default null.</summary>
    public string? InputColumnName { get; set; }

    /// <summary>For a model that does not start with LoadAudio: the sample rate it expects. Default null.</summary>
    public int? SampleRate { get; set; }

    /// <summary>The model's column of class probabilities (with slot names). Default "Score".</summary>
    public string ScoreColumnName { get; set; } = "Score";

    internal StreamingClassifierOptions Clone()
    {
        var c = (StreamingClassifierOptions)MemberwiseClone();
        c.VoiceActivityGate = VoiceActivityGate?.Clone();
        return c;
    }

    internal static bool IsIgnoredByDefault(string name)
        => name.StartsWith('_') || name.Equals("silence", StringComparison.OrdinalIgnoreCase)
           || name.Equals("background", StringComparison.OrdinalIgnoreCase) || name.Equals("noise", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A class heard in a stream: from the start of the first window that heard it to the end of the last one,
/// with the time and smoothed probability of its strongest window.</summary>
/// <param name="Label">The class.</param>
/// <param name="Start">Start of the first window that heard it, from the start of the stream.</param>
/// <param name="End">End of the last window that heard it.</param>
/// <param name="Peak">Centre of the window where it scored highest.</param>
/// <param name="Score">Its highest smoothed probability.</param>
public sealed record AudioDetection(string Label, TimeSpan Start, TimeSpan End, TimeSpan Peak, float Score);

/// <summary>
/// Classifies a live audio stream with a trained audio classification model: windows of the model's clip length every
/// <see cref="StreamingClassifierOptions.HopSeconds"/>, class probabilities averaged over the last few windows,
/// detections raised with start and end times when a class's smoothed probability crosses
/// <see cref="StreamingClassifierOptions.Threshold"/> and ended when it falls under
/// <see cref="StreamingClassifierOptions.ReleaseThreshold"/>.
/// </summary>
/// <remarks>
/// Audio arrives through <see cref="Push"/> (float samples at the model's rate, chunks of any size) or
/// <see cref="ListenAsync"/> (16-bit little-endian mono PCM from a stream: a microphone through <c>arecord</c>,
/// <c>sox</c> or <c>ffmpeg</c>, or a file). A model that starts with LoadAudio (the sample's) is run from the step after
/// it, on the samples themselves; its clip length and rate are the window's. Not thread-safe.
/// </remarks>
public sealed class StreamingAudioClassifier : IDisposable
{
    private readonly StreamingClassifierOptions _options;
    private readonly PredictionEngine<Window, Scores> _engine;
    private readonly int _window, _hop;
    private readonly bool[] _ignored;
    private float[] _buffer;
    private int _count;            // samples held, from absolute sample _bufferStart
    private long _bufferStart, _received, _nextWindow;
    private readonly DetectionTracker _tracker;
    private readonly Stopwatch _compute = new();
    private readonly VoiceActivityGate? _gate;
    private long _skipped, _scored;

    private sealed class Window
    {
        public float[] Audio { get; set; } = [];
    }

    private sealed class Scores
    {
        public float[] Score { get; set; } = [];
    }


    /// <summary>Prepares to classify a stream with <paramref name="model"/> (not owned).</summary>
    public StreamingAudioClassifier(MLContext mlContext, ITransformer model, StreamingClassifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(model);
        _options = (options ?? new StreamingClassifierOptions()).Clone();
        var o = _options;
        Layers.Check.Positive(o.HopSeconds, nameof(o.HopSeconds));
        Layers.Check.Positive(o.SmoothingWindows, nameof(o.SmoothingWindows));
        if (o.Threshold is not (> 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(o.Threshold), o.Threshold, $"Threshold must be in (0, 1], got: {o.Threshold}");
        if (o.ReleaseThreshold is not (> 0) || o.ReleaseThreshold > o.Threshold)
            throw new ArgumentOutOfRangeException(nameof(o.ReleaseThreshold), o.ReleaseThreshold, $"ReleaseThreshold must be in (0, Threshold = {o.Threshold}], got: {o.ReleaseThreshold}");

        // A model that decodes files first is run from the step after LoadAudio, on the samples it would have produced.
        var steps = Flatten(model).ToList();
        string column;
        int rate;
        double? seconds = o.WindowSeconds;
        if (steps.Count > 0 && steps[0] is LoadAudioTransformer load)
        {
            var loading = load.Options;
            if (!loading.Mono && loading.ChannelCount is not 1)
                throw new ArgumentException("The model's LoadAudio keeps several channels; a stream is mono.", nameof(model));
            column = load.OutputColumnName;
            rate = loading.SampleRate;
            seconds ??= loading.DurationSeconds;
            steps.RemoveAt(0);
        }
        else
        {
            column = o.InputColumnName ?? throw new ArgumentException(
                "The model does not start with LoadAudio: set InputColumnName (its audio column) and SampleRate.", nameof(options));
            rate = o.SampleRate ?? throw new ArgumentException("The model does not start with LoadAudio: set SampleRate.", nameof(options));
        }
        if (seconds is not double s)
            throw new ArgumentException("The model's clip length is unknown (its LoadAudio has no DurationSeconds): set WindowSeconds.", nameof(options));
        Layers.Check.Positive(s, nameof(o.WindowSeconds));
        SampleRate = rate;
        _window = (int)Math.Round(s * rate);
        _hop = Math.Max(1, (int)Math.Round(o.HopSeconds * rate));
        _buffer = new float[Math.Max(_window * 2, 4096)];

        var definition = SchemaDefinition.Create(typeof(Window));
        var audio = definition[nameof(Window.Audio)];
        audio.ColumnName = column;
        audio.ColumnType = new VectorDataViewType(NumberDataViewType.Single, _window);
        audio.AddAnnotation(AudioAnnotationKinds.SampleRate, rate, NumberDataViewType.Int32);
        audio.AddAnnotation(AudioAnnotationKinds.ChannelCount, 1, NumberDataViewType.Int32);
        var rest = new TransformerChain<ITransformer>([.. steps]);
        var outputs = SchemaDefinition.Create(typeof(Scores));
        outputs[nameof(Scores.Score)].ColumnName = o.ScoreColumnName;
        // The engine must not own the model: disposing it would dispose the caller's transformers.
        _engine = mlContext.Model.CreatePredictionEngine<Window, Scores>(rest, new PredictionEngineOptions
        {
            InputSchemaDefinition = definition, OutputSchemaDefinition = outputs, OwnsTransformer = false,
        });

        var inputSchema = mlContext.Data.LoadFromEnumerable(Array.Empty<Window>(), definition).Schema;
        var score = rest.GetOutputSchema(inputSchema).GetColumnOrNull(o.ScoreColumnName)
            ?? throw new ArgumentException($"The model writes no column '{o.ScoreColumnName}' of class probabilities.", nameof(model));
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        if (!score.HasSlotNames()) throw new ArgumentException($"The model's column '{o.ScoreColumnName}' has no class names (slot names).", nameof(model));
        score.GetSlotNames(ref names);
        ClassNames = [.. names.DenseValues().Select(n => n.ToString())];
        var ignored = o.IgnoredClasses;
        foreach (var name in ignored ?? [])
            if (!ClassNames.Contains(name))
                throw new ArgumentException($"IgnoredClasses names '{name}', which is not a class of the model ({string.Join(", ", ClassNames)}).", nameof(options));
        _ignored = [.. ClassNames.Select(n => ignored?.Contains(n) ?? StreamingClassifierOptions.IsIgnoredByDefault(n))];
        _tracker = new DetectionTracker(o, _ignored, _window, _hop);
        if (o.VoiceActivityGate is { } gate)
        {
            gate.Validate();
            _gate = new VoiceActivityGate(gate, rate);
        }
    }

    /// <summary>The steps of a model, chains within chains opened (a saved pipeline is often a chain of chains).</summary>
    private static IEnumerable<ITransformer> Flatten(ITransformer model)
        => model is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [model];

    /// <summary>The model's classes, in score order.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The classes that can be reported (those not ignored).</summary>
    public IReadOnlyList<string> ReportedClasses => [.. ClassNames.Where((_, i) => !_ignored[i])];

    /// <summary>Samples per second the stream must have (the model's rate).</summary>
    public int SampleRate { get; }

    /// <summary>Audio received so far.</summary>
    public TimeSpan Received => Seconds(_received);

    /// <summary>Time spent scoring windows so far; <see cref="Received"/> divided by it is the real-time factor.</summary>
    public TimeSpan ComputeTime => _compute.Elapsed;

    /// <summary>Windows the classifier scored so far.</summary>
    public long ScoredWindows => _scored;

    /// <summary>Windows the voice-activity gate passed over as background so far.</summary>
    public long SkippedWindows => _skipped;

    /// <summary>Adds samples (mono, at <see cref="SampleRate"/>, in [-1, 1]) and returns the detections they end.</summary>
    public IReadOnlyList<AudioDetection> Push(ReadOnlySpan<float> samples)
    {
        if (_count + samples.Length > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _count + samples.Length));
        samples.CopyTo(_buffer.AsSpan(_count));
        _gate?.Push(samples);
        _count += samples.Length;
        _received += samples.Length;
        var done = new List<AudioDetection>();
        while (_nextWindow + _window <= _received) Score(_buffer.AsSpan(checked((int)(_nextWindow - _bufferStart)), _window), done);
        int drop = checked((int)Math.Min(_nextWindow - _bufferStart, _count));
        if (drop > 0)
        {
            Array.Copy(_buffer, drop, _buffer, 0, _count - drop);
            _count -= drop;
            _bufferStart += drop;
        }
        return done;
    }

    /// <summary>Ends the stream: scores the last, partial window (padded with silence) and ends an open detection.</summary>
    public IReadOnlyList<AudioDetection> Flush()
    {
        var done = new List<AudioDetection>();
        if (_received > _nextWindow && (_received < _window || _received - _nextWindow > _window - _hop))
        {
            var last = new float[_window];
            _buffer.AsSpan(checked((int)(_nextWindow - _bufferStart)), checked((int)(_received - _nextWindow))).CopyTo(last);
            Score(last, done);
        }
        if (_tracker.Close() is { } open) done.Add(Detection(open));
        return done;
    }

    /// <summary>Reads 16-bit little-endian mono PCM at <see cref="SampleRate"/> from <paramref name="pcm"/> until it
    /// ends, yielding each detection as soon as it ends.</summary>
    public async IAsyncEnumerable<AudioDetection> ListenAsync(Stream pcm, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pcm);
        var bytes = new byte[Math.Max(2, SampleRate / 10 * 2)]; // 100 ms reads: detections come within a read of the data
        var samples = new float[bytes.Length / 2];
        int held = 0;
        while (true)
        {
            int n = await pcm.ReadAsync(bytes.AsMemory(held), cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            held += n;
            int whole = held / 2;
            for (int i = 0; i < whole; i++) samples[i] = BitConverter.ToInt16(bytes, 2 * i) / 32768f;
            if ((held & 1) == 1) bytes[0] = bytes[held - 1]; // an odd byte waits for its pair
            held &= 1;
            foreach (var d in Push(samples.AsSpan(0, whole))) yield return d;
        }
        foreach (var d in Flush()) yield return d;
    }

    private TimeSpan Seconds(long samples) => TimeSpan.FromSeconds((double)samples / SampleRate);

    private void Score(ReadOnlySpan<float> window, List<AudioDetection> done)
    {
        long start = _nextWindow;
        _nextWindow += _hop;
        float[] raw;
        if (_gate is not null && !_gate.Active(start, start + window.Length))
        {
            // Nothing in the window stands out from the background: it is background, unscored.
            raw = _background ??= Background();
            _skipped++;
        }
        else
        {
            _compute.Start();
            raw = _engine.Predict(new Window { Audio = window.ToArray() }).Score;
            _compute.Stop();
            _scored++;
        }
        if (raw.Length != ClassNames.Count)
            throw new InvalidOperationException($"The model scored {raw.Length} classes, its schema names {ClassNames.Count}.");
        WindowScored?.Invoke(start, raw, ReferenceEquals(raw, _background));
        if (_tracker.Add(start, raw) is { } closed) done.Add(Detection(closed));
    }

    /// <summary>Called with each window's start (in samples), its class probabilities, and whether the gate passed over
    /// it: the experiments that choose the thresholds replay these through <see cref="DetectionTracker"/>.</summary>
    internal Action<long, float[], bool>? WindowScored { get; set; }

    /// <summary>Which classes are background (never reported), in score order.</summary>
    internal bool[] BackgroundClasses => _ignored;

    /// <summary>Samples per window and between window starts.</summary>
    internal (int window, int hop) Geometry => (_window, _hop);

    private float[]? _background;

    /// <summary>The probabilities a gated window gets: spread over the ignored (background) classes, none on the words.</summary>
    private float[] Background()
    {
        int ignored = _ignored.Count(i => i);
        return [.. _ignored.Select(i => ignored == 0 ? 0f : i ? 1f / ignored : 0f)];
    }

    private AudioDetection Detection(DetectionTracker.Span open)
        => new(ClassNames[open.Label], Seconds(Math.Max(open.Start, 0)), Seconds(Math.Min(open.End, _received)), Seconds(open.PeakCentre), open.Peak);

    /// <summary>Releases the prediction engine (the model stays the caller's).</summary>
    public void Dispose() => _engine.Dispose();
}

/// <summary>Settings of the streaming classifier's voice-activity gate (<see cref="StreamingClassifierOptions.VoiceActivityGate"/>).</summary>
/// <remarks>
/// Energy-based: the level of every 10 ms frame (dB relative to full scale) is compared with the background's, tracked as
/// a floor that follows the quietest frames at once and louder ones slowly (over <see cref="FloorRiseSeconds"/>). A
/// window is scored when at least <see cref="MinimumActiveSeconds"/> of its frames are <see cref="MarginDb"/> above that
/// floor and above <see cref="SilenceDb"/>. Digital silence and a steady room pass as background; a word, a door or a
/// voice does not, and the classifier (with its background classes) decides.
/// </remarks>
public sealed class VoiceActivityGateOptions
{
    /// <summary>How far above the background floor a frame must be to count as activity. Default 9 dB.</summary>
    public double MarginDb { get; set; } = 9;

    /// <summary>Frames below this level (dBFS) are silence whatever the floor. Default −60 dB.</summary>
    public double SilenceDb { get; set; } = -60;

    /// <summary>Active audio a window needs to be scored. Default 0.05 s.</summary>
    public double MinimumActiveSeconds { get; set; } = 0.05;

    /// <summary>Time constant of the floor's rise towards louder frames (it falls to a quieter frame at once). Default 4 s.</summary>
    public double FloorRiseSeconds { get; set; } = 4;

    internal VoiceActivityGateOptions Clone() => (VoiceActivityGateOptions)MemberwiseClone();

    internal void Validate()
    {
        if (!(MarginDb >= 0 && MarginDb <= 60)) throw new ArgumentOutOfRangeException(nameof(MarginDb), MarginDb, $"MarginDb must be in [0, 60], got: {MarginDb}");
        if (!(SilenceDb <= 0 && SilenceDb >= -150)) throw new ArgumentOutOfRangeException(nameof(SilenceDb), SilenceDb, $"SilenceDb must be in [-150, 0], got: {SilenceDb}");
        if (!(MinimumActiveSeconds >= 0 && MinimumActiveSeconds <= 10)) throw new ArgumentOutOfRangeException(nameof(MinimumActiveSeconds), MinimumActiveSeconds, $"MinimumActiveSeconds must be in [0, 10], got: {MinimumActiveSeconds}");
        if (!(FloorRiseSeconds > 0 && FloorRiseSeconds <= 600)) throw new ArgumentOutOfRangeException(nameof(FloorRiseSeconds), FloorRiseSeconds, $"FloorRiseSeconds must be in (0, 600], got: {FloorRiseSeconds}");
    }
}

/// <summary>The energy gate's state: 10 ms frame levels and whether each stood out from the background floor of its time.</summary>
internal sealed class VoiceActivityGate
{
    private readonly VoiceActivityGateOptions _o;
    private readonly int _frame;
    private readonly double _rise;
    private readonly List<bool> _active = [];   // per frame since the start, kept for the windows still to come
    private long _firstFrame;                    // index of _active[0]
    private double _sum;                         // energy of the frame being filled
    private int _filled;
    private double? _floor;

    public VoiceActivityGate(VoiceActivityGateOptions options, int sampleRate)
    {
        _o = options;
        _frame = Math.Max(1, sampleRate / 100);
        _rise = 1 - Math.Exp(-0.01 / options.FloorRiseSeconds);
    }

    public void Push(ReadOnlySpan<float> samples)
    {
        foreach (float x in samples)
        {
            _sum += (double)x * x;
            if (++_filled < _frame) continue;
            double db = 10 * Math.Log10(_sum / _frame + 1e-12);
            _floor = _floor is double f ? (db < f ? db : f + (db - f) * _rise) : db;
            _active.Add(db >= Math.Max(_floor.Value + _o.MarginDb, _o.SilenceDb));
            _sum = 0;
            _filled = 0;
        }
    }

    /// <summary>Whether samples [<paramref name="start"/>, <paramref name="end"/>) hold enough active frames; frames
    /// before <paramref name="start"/> are forgotten.</summary>
    public bool Active(long start, long end)
    {
        long first = start / _frame, last = end / _frame;
        int drop = (int)Math.Clamp(first - _firstFrame, 0, _active.Count);
        if (drop > 0) { _active.RemoveRange(0, drop); _firstFrame += drop; }
        int needed = Math.Max(1, (int)Math.Round(_o.MinimumActiveSeconds * 100));
        int count = 0;
        for (long k = first; k < last && k - _firstFrame < _active.Count; k++)
            if (_active[(int)(k - _firstFrame)] && ++count >= needed) return true;
        return false;
    }
}

/// <summary>
/// The decisions of <see cref="StreamingAudioClassifier"/>: each window's class probabilities averaged over the last
/// <see cref="StreamingClassifierOptions.SmoothingWindows"/> windows; a detection starts when a reported class reaches
/// <see cref="StreamingClassifierOptions.Threshold"/> and lasts until it falls under
/// <see cref="StreamingClassifierOptions.ReleaseThreshold"/>.
/// </summary>
internal sealed class DetectionTracker(StreamingClassifierOptions options, bool[] ignored, int window, int hop)
{
    /// <summary>A detection: its class, first and last sample, and the centre and smoothed probability of its best window.</summary>
    internal sealed class Span(int label, long start)
    {
        public int Label = label;
        public long Start = start, End, PeakCentre;
        public float Peak;
    }

    private readonly Queue<float[]> _recent = new();
    private Span? _open;

    /// <summary>Adds the probabilities of the window that starts at sample <paramref name="start"/>; returns the
    /// detection it ends, if any.</summary>
    public Span? Add(long start, float[] raw)
    {
        _recent.Enqueue(raw);
        while (_recent.Count > options.SmoothingWindows) _recent.Dequeue();
        var smoothed = new float[raw.Length];
        foreach (var r in _recent)
            for (int c = 0; c < r.Length; c++) smoothed[c] += r[c] / _recent.Count;

        Span? closed = null;
        if (_open is { } open)
        {
            if (smoothed[open.Label] >= options.ReleaseThreshold)
            {
                open.End = start + window;
                if (smoothed[open.Label] > open.Peak) (open.Peak, open.PeakCentre) = (smoothed[open.Label], start + window / 2);
                return null;
            }
            closed = open;
            _open = null;
        }
        int best = -1;
        for (int c = 0; c < smoothed.Length; c++)
            if (!ignored[c] && (best < 0 || smoothed[c] > smoothed[best])) best = c;
        if (best < 0 || smoothed[best] < options.Threshold) return closed;
        // The detection starts with the earliest smoothed window that already heard the class.
        int back = _recent.Count - 1;
        foreach (var r in _recent)
        {
            if (r[best] >= options.ReleaseThreshold) break;
            back--;
        }
        _open = new Span(best, start - (long)Math.Max(back, 0) * hop) { End = start + window, Peak = smoothed[best], PeakCentre = start + window / 2 };
        return closed;
    }

    /// <summary>Ends the stream: the open detection, if any.</summary>
    public Span? Close()
    {
        var open = _open;
        _open = null;
        return open;
    }
}
