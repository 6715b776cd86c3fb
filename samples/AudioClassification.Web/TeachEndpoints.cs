using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;

namespace AudioClassification.Web;

/// <summary>The trainings and model uploads of the server: they take turns (<see cref="WebOptions.TrainingConcurrency"/>),
/// apart from the prediction slots, so that a training never holds up another model's predictions or streams.</summary>
public sealed class Teaching(WebOptions options) : IDisposable
{
    internal SemaphoreSlim Turns { get; } = new(options.TrainingConcurrency, options.TrainingConcurrency);

    /// <summary>For tests and the docs' screenshots: called with each stage of a training as it begins, on the
    /// training's thread, which waits for the task (so a test can hold a training at a known point).</summary>
    internal Func<string, Task>? AtStage { get; set; }

    public void Dispose() => Turns.Dispose();
}

/// <summary>What <c>POST /train</c> answers.</summary>
/// <param name="Model">The new model's id, for <c>?model=ID</c> and <c>/models/ID.zip</c>.</param>
/// <param name="Classes">Its classes in score order, background ones included.</param>
/// <param name="Milliseconds">Server time from the end of the upload to the model being ready to serve: checking and
/// decoding the examples, waiting for a turn, training, saving and loading.</param>
/// <param name="ClipSeconds">The clip length the model hears, and a live stream's window.</param>
/// <param name="Examples">Training clips per class (a long background recording is cut into several).</param>
/// <param name="Evicted">The id of the model evicted to make room for this one, if any (also the X-Model-Evicted header).</param>
public sealed record TrainAnswer(string Model, IReadOnlyList<string> Classes, double Milliseconds, double ClipSeconds,
    IReadOnlyDictionary<string, int> Examples, string? Evicted);

/// <summary>What <c>GET /models/ID</c> answers: a kept model's classes and clip length.</summary>
public sealed record ModelInfo(string Model, IReadOnlyList<string> Classes, double? ClipSeconds);

/// <summary>What <c>POST /models</c> answers for an uploaded model zip.</summary>
public sealed record UploadAnswer(string Model, IReadOnlyList<string> Classes, string? Evicted);

/// <summary>One line of a training's progress (<c>Accept: application/x-ndjson</c>).</summary>
/// <param name="Stage">waiting (for a turn), embedding, fitting, saving, loading.</param>
/// <param name="Clips">The training clips.</param>
/// <param name="Milliseconds">Server time since the end of the upload.</param>
public sealed record ProgressLine(string Stage, int Clips, double Milliseconds);

/// <summary>
/// Teach mode's endpoints: <c>POST /train</c>, <c>GET /models/ID.zip</c>, <c>GET /models/ID.onnx</c> and
/// <c>POST /models</c>. Trained and uploaded models live in the <see cref="ModelStore"/>.
/// </summary>
internal static class TeachEndpoints
{
    public const string ProgressType = "application/x-ndjson";

    public static void Map(WebApplication app, WebOptions options, ILogger log)
    {
        app.MapPost("/train", (HttpContext context, Teaching teaching, ModelServer startup, ModelStore store)
            => TrainAsync(context, options, log, teaching, startup, store));
        app.MapGet("/models/{id}", (string id, ModelStore store) =>
        {
            using var lease = store.Lease(id);
            return lease is null ? WebSample.Error(StatusCodes.Status404NotFound, WebSample.NoSuchModel(id, options))
                : Results.Json(new ModelInfo(id, lease.Model.Server.ClassNames, lease.Model.Server.ClipSeconds));
        });
        app.MapGet("/models/{id}.zip", (string id, ModelStore store) =>
        {
            using var lease = store.Lease(id);
            return lease is null ? WebSample.Error(StatusCodes.Status404NotFound, WebSample.NoSuchModel(id, options))
                : Results.File(lease.Model.Zip, "application/zip", $"kapre-model-{id}.zip");
        });
        app.MapGet("/models/{id}.onnx", async (string id, ModelStore store) =>
        {
            using var lease = store.Lease(id);
            if (lease is null) return WebSample.Error(StatusCodes.Status404NotFound, WebSample.NoSuchModel(id, options));
            try
            {
                return Results.File(await lease.Model.OnnxAsync(), "application/octet-stream", $"kapre-model-{id}.onnx");
            }
            catch (NotSupportedException e)
            {
                return WebSample.Error(StatusCodes.Status409Conflict, $"Model {id} cannot be exported to ONNX: {e.Message}");
            }
        });
        app.MapPost("/models", (HttpContext context, Teaching teaching, ModelServer startup, ModelStore store)
            => WebSample.Serve(context, options, log, "models", (zip, name, cancellation) => UploadAsync(context, zip, name, teaching, startup, store, options, log, cancellation)));
    }

    /// <summary>Loads an uploaded model zip (in a training turn: loading is a training's last step) and keeps it.</summary>
    private static async Task<IResult> UploadAsync(HttpContext context, byte[] zip, string name, Teaching teaching, ModelServer startup, ModelStore store,
        WebOptions options, ILogger log, CancellationToken cancellation)
    {
        await teaching.Turns.WaitAsync(cancellation);
        var loading = Task.Run(() =>
        {
            ModelServer server;
            try
            {
                server = ModelServer.FromZip(zip, $"uploaded model '{name}'", options.Concurrency, startup.Slots);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever ML.NET's loader or the first prediction throws, the upload is at fault: it is not a model of this kind.
                return (null, $"The upload '{name}' is not a model this server can serve (an ML.NET zip of an audio classifier, as /models/ID.zip gives): {e.Message}");
            }
            try
            {
                server.OpenStream().Dispose();
                return ((ModelServer?)server, (string?)null);
            }
            catch (ArgumentException e)
            {
                server.Dispose();
                return (null, $"The model '{name}' cannot classify a live stream: {e.Message}");
            }
        }, CancellationToken.None);
        _ = loading.ContinueWith(_ => teaching.Turns.Release(), TaskScheduler.Default);
        (ModelServer? loaded, string? problem) result;
        try
        {
            result = await loading.WaitAsync(cancellation);
        }
        catch (OperationCanceledException)
        {
            _ = loading.ContinueWith(t => t.Result.Item1?.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion);
            throw;
        }
        if (result.problem is string problem)
        {
            log.LogWarning("models: {Problem}", problem);
            return WebSample.Error(StatusCodes.Status400BadRequest, problem);
        }
        var (model, evicted) = store.Add(result.loaded!, zip);
        Headers(context, evicted, options);
        log.LogInformation("models: {Name} ({Bytes} bytes) kept as model {Id}: {Classes}{Evicted}", name, zip.Length, model.Id,
            string.Join(", ", model.Server.ClassNames), evicted is null ? "" : $"; model {evicted} evicted");
        return Results.Json(new UploadAnswer(model.Id, model.Server.ClassNames, evicted));
    }

    private static void Headers(HttpContext context, string? evicted, WebOptions options)
    {
        context.Response.Headers["X-Models-Limit"] = options.MaxModels.ToString(CultureInfo.InvariantCulture);
        if (evicted is not null) context.Response.Headers["X-Model-Evicted"] = evicted;
    }

    private static async Task<IResult> TrainAsync(HttpContext context, WebOptions options, ILogger log, Teaching teaching, ModelServer startup, ModelStore store)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        limit.CancelAfter(options.TrainingTimeout);
        bool TimedOut() => limit.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;
        string seconds = options.TrainingTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        IResult Refuse(int status, string message)
        {
            log.LogWarning("train: {Message}", message);
            return WebSample.Error(status, message);
        }

        List<TeachingClip> clips;
        try
        {
            clips = await ReadExamplesAsync(context, options, limit.Token);
        }
        catch (BadHttpRequestException e)
        {
            return Refuse(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(options) : e.Message);
        }
        catch (TeachingException e)
        {
            return Refuse(StatusCodes.Status400BadRequest, e.Message);
        }
        catch (OperationCanceledException) when (TimedOut())
        {
            return Refuse(StatusCodes.Status408RequestTimeout, $"The upload took longer than the training time limit ({seconds} s).");
        }
        catch (Exception e) when (e is InvalidDataException or IOException && !context.RequestAborted.IsCancellationRequested)
        {
            return Refuse(StatusCodes.Status400BadRequest, $"The multipart form cannot be read: {e.Message}");
        }

        var watch = Stopwatch.StartNew();
        TrainingSet set;
        try
        {
            set = await Task.Run(() => Teacher.Prepare(clips), CancellationToken.None);
        }
        catch (TeachingException e)
        {
            return Refuse(StatusCodes.Status400BadRequest, e.Message);
        }
        clips.Clear();

        // With Accept: application/x-ndjson the answer is a line per stage, then the answer's line: the page's progress.
        bool streamed = context.Request.Headers.Accept.Any(a => a?.Contains(ProgressType, StringComparison.OrdinalIgnoreCase) == true);
        var lines = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
        Task pump = Task.CompletedTask;
        if (streamed)
        {
            context.Response.ContentType = ProgressType;
            context.Response.Headers.CacheControl = "no-store";
            Headers(context, null, options);
            pump = PumpAsync(context, lines.Reader);
        }
        void Stage(string stage)
        {
            lines.Writer.TryWrite(new ProgressLine(stage, set.Files.Count, watch.Elapsed.TotalMilliseconds));
            if (teaching.AtStage is { } hold && stage != "waiting") hold(stage).GetAwaiter().GetResult();
        }

        IResult Fail(int status, string message)
        {
            log.LogWarning("train: {Message}", message);
            if (!streamed) return WebSample.Error(status, message);
            lines.Writer.TryWrite(new WebSample.ErrorAnswer(message, context.TraceIdentifier));
            return Results.Empty;
        }

        bool handedOver = false;
        try
        {
            Stage("waiting");
            try
            {
                await teaching.Turns.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException) when (TimedOut())
            {
                return Fail(StatusCodes.Status503ServiceUnavailable, $"Other trainings kept the server busy for the training time limit ({seconds} s); try again.");
            }
            handedOver = true;
            var work = Task.Run(() =>
            {
                try
                {
                    var taught = Teacher.Fit(set, p => Stage(p.Stage), message => log.LogWarning("train: {Warning}", message));
                    Stage("loading");
                    return (taught, server: ModelServer.FromZip(taught.Zip, "a trained model", options.Concurrency, startup.Slots));
                }
                finally
                {
                    set.Dispose();
                    teaching.Turns.Release();
                }
            }, CancellationToken.None);
            (TaughtModel taught, ModelServer server) trained;
            try
            {
                trained = await work.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                // The training cannot be stopped midway: it finishes on its own, and its model, which no one will ask
                // for, is let go.
                _ = work.ContinueWith(t => t.Result.server.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion);
                if (!TimedOut()) return Results.Empty;
                return Fail(StatusCodes.Status503ServiceUnavailable, $"The training did not finish within the training time limit ({seconds} s); send fewer or shorter examples.");
            }
            if (context.RequestAborted.IsCancellationRequested)
            {
                trained.server.Dispose();
                return Results.Empty;
            }
            var (model, evicted) = store.Add(trained.server, trained.taught.Zip);
            var result = new TrainAnswer(model.Id, trained.taught.Classes, watch.Elapsed.TotalMilliseconds, trained.taught.ClipSeconds, trained.taught.Examples, evicted);
            log.LogInformation("train: model {Id} from {Clips} clips ({Examples}), {ClipSeconds:0.0#} s clips, in {Milliseconds:F0} ms{Evicted}",
                model.Id, set.Files.Count, string.Join(", ", result.Examples.Select(e => $"{e.Key} {e.Value}")), result.ClipSeconds,
                result.Milliseconds, evicted is null ? "" : $"; model {evicted} evicted");
            if (streamed)
            {
                lines.Writer.TryWrite(result);
                return Results.Empty;
            }
            Headers(context, evicted, options);
            return Results.Json(result);
        }
        finally
        {
            if (!handedOver) set.Dispose();
            lines.Writer.TryComplete();
            await pump;
        }
    }

    /// <summary>Writes each line as it comes, flushed, so the page sees the stages as they happen.</summary>
    private static async Task PumpAsync(HttpContext context, ChannelReader<object> lines)
    {
        var json = context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        try
        {
            await foreach (var line in lines.ReadAllAsync())
            {
                await context.Response.WriteAsync(JsonSerializer.Serialize(line, line.GetType(), json) + "\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The client left; the training goes on (see TrainAsync) and its lines are dropped.
        }
    }

    private static string TooLarge(WebOptions options)
        => $"The examples are larger than the limit of {options.MaxTrainingUploadBytes / (1024.0 * 1024):0.#} MiB (--max-train-mb).";

    /// <summary>The examples of a training request: every part of a multipart form, each a file whose form name is its class.</summary>
    private static async Task<List<TeachingClip>> ReadExamplesAsync(HttpContext context, WebOptions options, CancellationToken cancellation)
    {
        var request = context.Request;
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = options.MaxTrainingUploadBytes;
        if (request.ContentLength > options.MaxTrainingUploadBytes)
            throw new BadHttpRequestException(TooLarge(options), StatusCodes.Status413PayloadTooLarge);
        if (!(request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) ?? false))
            throw new TeachingException("Send the examples as multipart/form-data: one part per audio file, its form name the class label " +
                                        "(curl -F yes=@yes1.wav -F no=@no1.wav -F _background_=@room.wav .../train).");
        context.Features.Set<IFormFeature>(new FormFeature(request, new FormOptions
        {
            MultipartBodyLengthLimit = options.MaxTrainingUploadBytes,
            ValueCountLimit = options.MaxTrainingParts,
        }));
        var form = await request.ReadFormAsync(cancellation);
        if (form.Count > 0)
            throw new TeachingException($"The form has text fields ({string.Join(", ", form.Keys.Take(5).Select(k => $"'{k}'"))}); " +
                                        "every part must be an audio file, its form name the class label.");
        var clips = new List<TeachingClip>(form.Files.Count);
        foreach (var file in form.Files)
        {
            var bytes = new byte[file.Length];
            await using (var stream = file.OpenReadStream()) await stream.ReadExactlyAsync(bytes, cancellation);
            string fileName = Path.GetFileName(file.FileName) is { Length: > 0 } f ? f : "(no file name)";
            clips.Add(new TeachingClip(file.Name, fileName.Length > 80 ? fileName[..77] + "..." : fileName, bytes));
        }
        return clips;
    }
}
