using System.Diagnostics;
using AudioClassification.Consumption;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.IO;
using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace AudioClassification.Web;

/// <summary>
/// The model's input for an upload: the file's bytes. The model's LoadAudio reads column "Path", which may hold a path
/// (the console sample's <see cref="ModelInput"/>) or the file's contents; both decode the same way.
/// </summary>
public sealed class AudioFile
{
    [ColumnName("Path")]
    public byte[] Bytes { get; set; } = [];
}

/// <summary>The log-mel spectrogram of an upload, row-major [mels, frames] in dB.</summary>
public sealed class LogMelOutput
{
    [ColumnName("LogMel")]
    public float[] Values { get; set; } = [];
}

/// <summary>What <c>POST /predict</c> answers.</summary>
/// <param name="Label">The predicted class.</param>
/// <param name="Scores">Each class's probability, in the model's class order.</param>
/// <param name="Milliseconds">Time spent decoding and predicting on the server, without the upload.</param>
public sealed record Prediction(string Label, IReadOnlyDictionary<string, float> Scores, double Milliseconds);

/// <summary>The upload is not audio the decoder can read; the message is the decoder's, naming the upload.</summary>
public sealed class BadAudioException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// Loads a model zip once and serves predictions (and, for the start-up model, spectrograms) to concurrent requests,
/// and streaming classifiers to live streams.
/// </summary>
/// <remarks>
/// A PredictionEngine is not thread-safe, so each request borrows one from a pool (ObjectPool) and returns it; at most
/// <c>concurrency</c> requests compute at once over all the server's models (they share the slots), each on the thread
/// pool, and the others wait for a slot without holding a thread. A request that gives up waiting (its time limit)
/// leaves its computation to finish and free its slot. Live streams do not take slots: each scores a few windows a
/// second, and their number is bounded on its own (WebOptions.MaxStreams).
/// <para>
/// ML.NET's component for this is Microsoft.Extensions.ML's <c>PredictionEnginePool</c> (an ObjectPool of engines made
/// by a policy, as here). It cannot serve here because it cannot be had: no version of Microsoft.Extensions.ML is
/// served by this project's NuGet source (restore: NU1101, "No packages exist with this id"). Where it can be
/// restored, <c>AddPredictionEnginePool&lt;AudioFile, ModelOutput&gt;().FromFile(path)</c> with
/// <c>Configure&lt;MLOptions&gt;</c> setting the MLContext (GpuDeviceId, FallbackToCpu) replaces the predictors' pool
/// below; the spectrogram engines, the slots and dropping an engine whose row failed stay ours.
/// </para>
/// </remarks>
public sealed class ModelServer : IDisposable
{
    private readonly MLContext _ml;
    private readonly ITransformer _model;
    private readonly ITransformer? _spectrogram;
    private readonly ObjectPool<PredictionEngine<AudioFile, ModelOutput>> _predictors;
    private readonly ObjectPool<PredictionEngine<AudioFile, LogMelOutput>>? _spectrograms;
    private readonly SemaphoreSlim _slots;
    private readonly bool _ownsSlots;
    private readonly int _mels, _frames;
    // MLContext does not promise that building engines (or a stream's engine) concurrently is safe.
    private readonly Lock _building = new();

    /// <summary>Loads the model and runs it once, so a model that cannot serve fails here; serves spectrograms too.</summary>
    /// <param name="modelPath">A model zip saved by the console sample.</param>
    /// <param name="concurrency">Requests computed at once (and engines kept in each pool).</param>
    public ModelServer(string modelPath, int concurrency)
        : this(Path.GetFullPath(modelPath), ml => ml.Model.Load(Path.GetFullPath(modelPath), out _), concurrency,
               new SemaphoreSlim(concurrency, concurrency), ownsSlots: true, spectrograms: true)
    {
    }

    /// <summary>Loads a model zip held in memory (one trained or uploaded here) and runs it once. It computes within
    /// <paramref name="slots"/>, shared with the other models, and serves predictions and streams, not spectrograms.</summary>
    /// <param name="zip">The model zip's bytes.</param>
    /// <param name="name">What the log and error messages call it.</param>
    /// <param name="concurrency">Engines kept in the pool.</param>
    /// <param name="slots">The server's computation slots (not owned).</param>
    public static ModelServer FromZip(byte[] zip, string name, int concurrency, SemaphoreSlim slots)
        => new(name, ml =>
        {
            using var stream = new MemoryStream(zip, writable: false);
            return ml.Model.Load(stream, out _);
        }, concurrency, slots, ownsSlots: false, spectrograms: false);

    private ModelServer(string name, Func<MLContext, ITransformer> load, int concurrency, SemaphoreSlim slots, bool ownsSlots, bool spectrograms)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(concurrency);
        ModelPath = name;
        (_slots, _ownsSlots) = (slots, ownsSlots);
        // As the consumption code: CUDA device 0 when the app has the CUDA backend and a GPU, else the CPU.
        _ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var model = _model = load(_ml);
        var empty = _ml.Data.LoadFromEnumerable(Array.Empty<AudioFile>());
        ClassNames = AudioClassifierModel.ClassNamesOf(model.GetOutputSchema(empty.Schema));
        ClipSeconds = Steps(model).OfType<LoadAudioTransformer>().FirstOrDefault()?.Options.DurationSeconds;

        var pools = new DefaultObjectPoolProvider { MaximumRetained = concurrency };
        _predictors = pools.Create(new EnginePolicy<ModelOutput>(_ml, model, _building));
        // One prediction of each kind now, on a second of silence: a model that cannot serve fails here rather than at the
        // first request, and that request does not pay for the first run (JIT, libtorch's first allocations).
        byte[] silence = WavFile.Pcm16(new float[ModelTraining.Loading.SampleRate], ModelTraining.Loading.SampleRate);
        Borrow(_predictors, silence, "warm-up");
        if (!spectrograms) return;

        // The console sample's spectrogram command, on bytes: its decoding and front end, so the plot is what the model hears.
        var spectrogram = _ml.Transforms.Audio.LoadAudio("Audio", "Path", ModelTraining.Loading)
            .Append(_ml.Transforms.Audio.MelSpectrogramGpu("LogMel", "Audio", ModelTraining.FrontEnd)).Fit(empty);
        _spectrogram = spectrogram;
        var dims = ((VectorDataViewType)spectrogram.GetOutputSchema(empty.Schema)["LogMel"].Type).Dimensions;
        (_mels, _frames) = (dims[0], dims[1]);
        _spectrograms = pools.Create(new EnginePolicy<LogMelOutput>(_ml, spectrogram, _building));
        Borrow(_spectrograms, silence, "warm-up");
    }

    /// <summary>The computation slots this model's requests take (shared by every model of the server).</summary>
    internal SemaphoreSlim Slots => _slots;

    /// <summary>The device line of the samples (<see cref="SampleDevice"/>): where the model runs.</summary>
    public string Device { get; } = SampleDevice.Describe(gpuDeviceId: 0, fallbackToCpu: true);

    /// <summary>The model file, as a full path; for a model held in memory, its name.</summary>
    public string ModelPath { get; }

    /// <summary>The clip length the model hears (its LoadAudio's), or null when it decodes whole files.</summary>
    public double? ClipSeconds { get; }

    private static IEnumerable<ITransformer> Steps(ITransformer model)
        => model is IEnumerable<ITransformer> chain ? chain.SelectMany(Steps) : [model];

    /// <summary>The model's classes, in score order.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Classifies an audio file's bytes.</summary>
    /// <param name="audio">The whole file (WAV, any encoding LoadAudio reads).</param>
    /// <param name="name">A name for the upload, used in error messages.</param>
    /// <param name="cancellation">Stops waiting (the request's time limit); a running computation still completes.</param>
    /// <exception cref="BadAudioException">The bytes cannot be decoded.</exception>
    public Task<Prediction> PredictAsync(byte[] audio, string name, CancellationToken cancellation) => RunAsync(() =>
    {
        var watch = Stopwatch.StartNew();
        var output = Borrow(_predictors, audio, name);
        var scores = new Dictionary<string, float>(ClassNames.Count);
        for (int i = 0; i < ClassNames.Count; i++) scores[ClassNames[i]] = output.Score[i];
        return new Prediction(output.PredictedLabel, scores, watch.Elapsed.TotalMilliseconds);
    }, cancellation);

    /// <summary>The log-mel spectrogram of an audio file's bytes, as a PNG with axes and a colour bar.</summary>
    /// <inheritdoc cref="PredictAsync" path="/param"/>
    /// <exception cref="BadAudioException">The bytes cannot be decoded.</exception>
    public Task<byte[]> SpectrogramPngAsync(byte[] audio, string name, CancellationToken cancellation) => RunAsync(() =>
    {
        var output = Borrow(_spectrograms ?? throw new InvalidOperationException($"{ModelPath} serves no spectrograms."), audio, name);
        return Plots.SpectrogramPng(output.Values, _mels, _frames, ModelTraining.FrontEnd, ModelTraining.Loading.SampleRate,
            $"Log-mel spectrogram of {name} (1 s, as the model hears it)");
    }, cancellation);

    private async Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellation)
    {
        await _slots.WaitAsync(cancellation).ConfigureAwait(false);
        // Decoding and the network are CPU work: off the request's thread, so that a request over its time limit can be
        // answered while its computation finishes (and frees the slot) on its own.
        var computation = Task.Run(() =>
        {
            try { return work(); }
            finally { _slots.Release(); }
        }, CancellationToken.None);
        return await computation.WaitAsync(cancellation).ConfigureAwait(false);
    }

    private static TOut Borrow<TOut>(ObjectPool<PredictionEngine<AudioFile, TOut>> pool, byte[] audio, string name)
        where TOut : class, new()
    {
        var engine = pool.Get();
        TOut output;
        try
        {
            output = engine.Predict(new AudioFile { Bytes = audio });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // An engine whose row failed midway is not trusted with the next one: drop it, the pool makes a new one.
            engine.Dispose();
            throw DecoderFailure(e) is AudioDecodeException d
                ? new BadAudioException($"Cannot decode audio '{name}': {d.Reason}", e)
                : e;
        }
        pool.Return(engine);
        return output;
    }

    /// <summary>The decoder's exception, wherever ML.NET's row machinery put it.</summary>
    private static AudioDecodeException? DecoderFailure(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is AudioDecodeException d) return d;
            if (x is AggregateException a && a.InnerExceptions.Count == 1) return DecoderFailure(a.InnerExceptions[0]);
        }
        return null;
    }

    /// <summary>
    /// A streaming classifier of this model (<see cref="StreamingAudioClassifier"/>): one per live stream, disposed with
    /// it. It shares the model, which must outlive it.
    /// </summary>
    /// <exception cref="ArgumentException">The model cannot classify a stream (its message says why).</exception>
    public StreamingAudioClassifier OpenStream(StreamingClassifierOptions? options = null)
    {
        lock (_building) return new StreamingAudioClassifier(_ml, _model, options);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        (_predictors as IDisposable)?.Dispose();
        (_spectrograms as IDisposable)?.Dispose();
        (_model as IDisposable)?.Dispose();
        (_spectrogram as IDisposable)?.Dispose();
        if (_ownsSlots) _slots.Dispose();
    }

    private sealed class EnginePolicy<TOut>(MLContext ml, ITransformer model, Lock building) : PooledObjectPolicy<PredictionEngine<AudioFile, TOut>>
        where TOut : class, new()
    {
        public override PredictionEngine<AudioFile, TOut> Create()
        {
            // Engines are made when requests find the pool empty, possibly several at once.
            // OwnsTransformer false: by default an engine disposes the model with itself, and the pool disposes engines
            // (a failed one here, those beyond its size there) while the others still use the model.
            lock (building) return ml.Model.CreatePredictionEngine<AudioFile, TOut>(model, new PredictionEngineOptions { OwnsTransformer = false });
        }

        public override bool Return(PredictionEngine<AudioFile, TOut> engine) => true;
    }
}
