using System.Globalization;
using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;

namespace AudioClassification.Web;

/// <summary>The web sample's settings (<see cref="WebSample.Usage"/>).</summary>
public sealed record WebOptions
{
    /// <summary>The model zip: by default the console sample's, which it writes to the current folder.</summary>
    public string ModelPath { get; init; } = Path.GetFullPath("AudioClassifier.zip");

    /// <summary>Where to listen (Kestrel's syntax; port 0 picks a free one), as ASP.NET Core's <c>--urls</c>: above
    /// every other setting. Null: ASP.NET Core's configuration decides (an appsettings file's <c>Urls</c>, then
    /// <c>ASPNETCORE_URLS</c>; Kestrel's http://localhost:5000 when neither is set).</summary>
    public string? Urls { get; init; }

    /// <summary>Largest request body: a 30 s WAV at 48 kHz, 16-bit stereo is 5.8 MB.</summary>
    public long MaxUploadBytes { get; init; } = 10 * 1024 * 1024;

    /// <summary>Time for a request from its first body byte to its answer, waiting for a free slot included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests computed at once, over every model; the others wait (without a thread) within their time limit.</summary>
    public int Concurrency { get; init; } = Environment.ProcessorCount;

    /// <summary>Models trained or uploaded here that are kept in memory; one more evicts the oldest.</summary>
    public int MaxModels { get; init; } = 8;

    /// <summary>Largest <c>POST /train</c> body: 60 two-second examples recorded by the page are 3.8 MB; 100 MiB leaves
    /// room for long recordings in compressed or 48 kHz formats.</summary>
    public long MaxTrainingUploadBytes { get; init; } = 100 * 1024 * 1024;

    /// <summary>Most examples (multipart parts) in one training.</summary>
    public int MaxTrainingParts { get; init; } = 1000;

    /// <summary>Time for a training or a model upload from its first body byte to its answer, waiting for its turn included.</summary>
    public TimeSpan TrainingTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Trainings (and model uploads) computed at once; the others wait their turn within their time limit.</summary>
    public int TrainingConcurrency { get; init; } = 1;

    /// <summary>Live streams (<c>/listen</c>) open at once; more are refused with 503.</summary>
    public int MaxStreams { get; init; } = 8;

    /// <summary>Largest message of a live stream: 2 s of 16-bit audio at 16 kHz (the page sends 0.1 s at a time).</summary>
    public int MaxStreamMessageBytes { get; init; } = 64 * 1024;

    /// <summary>A live stream that sends nothing for this long is closed.</summary>
    public TimeSpan StreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>The web app: command line, server set-up and endpoints.</summary>
public static class WebSample
{
    public const string Usage = """
        usage: AudioClassification.Web [--model PATH] [--urls URLS] [--max-upload-mb N] [--timeout SECONDS]
                                       [--max-models N] [--max-streams N] [--max-train-mb N]

          --model PATH        model zip made by the console sample (default: AudioClassifier.zip in the current folder)
          --urls URLS         where to listen (http://127.0.0.1:0 picks a free port); without it, ASP.NET Core's
                              settings, in its order: Urls in appsettings.json, ASPNETCORE_URLS, http://localhost:5000
          --max-upload-mb N   largest upload to /predict, /spectrogram and /models, in MiB (default 10); larger get 413
          --timeout SECONDS   time limit of a request (default 10); slower uploads get 408, a busy server 503
          --max-models N      models trained or uploaded here kept in memory (default 8); one more evicts the oldest
          --max-streams N     live streams open at once (default 8); more get 503
          --max-train-mb N    largest /train upload, in MiB (default 100)

        Endpoints: GET / (the page); POST /predict[?model=ID] and POST /spectrogram (body: an audio file, raw or as the
        multipart form field 'file'); GET /health; GET /listen[?model=ID], a WebSocket: send 16-bit little-endian mono
        PCM at 16 kHz as binary messages and the text 'end' to finish, get each detection as JSON when it ends;
        POST /train (multipart: one part per example, its form name the class label, e.g. _background_ for
        background) answers {"model": ID, "classes": [...], "milliseconds": N}; GET /models/ID.zip and
        GET /models/ID.onnx download a model; POST /models uploads a model zip again. See docs/web-sample.md.
        """;

    /// <summary>Parses the command line, loads the model and serves until stopped. Returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        WebOptions options;
        try
        {
            if (args is ["--help"] or ["-h"] or ["help"])
            {
                output.WriteLine(Usage);
                return 0;
            }
            options = Parse(args);
        }
        catch (UsageException e)
        {
            output.WriteLine(e.Message);
            output.WriteLine(Usage);
            return 2;
        }
        if (MissingModel(options.ModelPath) is string message)
        {
            output.WriteLine(message);
            return 1;
        }
        WebApplication app;
        try
        {
            app = Build(options);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException or FormatException)
        {
            output.WriteLine($"error: cannot serve the model {options.ModelPath}: {e.Message}");
            return 1;
        }
        await using (app)
        {
            await app.StartAsync();
            output.WriteLine($"Serving {options.ModelPath} on {string.Join(", ", app.Urls)} (Ctrl+C to stop).");
            await app.WaitForShutdownAsync();
        }
        return 0;
    }

    /// <summary>The message for a model path with no file, telling how to make one; null when the file exists.</summary>
    public static string? MissingModel(string path) => File.Exists(path) ? null : $"""
        No model at {Path.GetFullPath(path)}.
        Make one with the console sample, which trains on the bundled spoken words and writes AudioClassifier.zip to the
        current folder (about 2 minutes on 2 CPU cores):
          dotnet run --project samples/AudioClassification -c Release
        then run this sample from the same folder, or pass --model PATH.
        """;

    /// <summary>The options of a command line; unknown or repeated options and bad values throw <see cref="UsageException"/>.</summary>
    public static WebOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>();
        string[] known = ["model", "urls", "max-upload-mb", "timeout", "max-models", "max-streams", "max-train-mb"];
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..] : "";
            if (!known.Contains(name))
                throw new UsageException(args[i].StartsWith('-')
                    ? $"Unknown option '{args[i]}'; the options are {string.Join(", ", known.Select(k => "--" + k))}."
                    : $"Unexpected argument '{args[i]}': the sample takes options only.");
            if (values.ContainsKey(name)) throw new UsageException($"--{name} is given twice.");
            if (i + 1 >= args.Length) throw new UsageException($"--{name} needs a value.");
            values[name] = args[++i];
        }
        var options = new WebOptions();
        if (values.TryGetValue("model", out var model)) options = options with { ModelPath = Path.GetFullPath(model) };
        if (values.TryGetValue("urls", out var urls)) options = options with { Urls = urls };
        if (values.TryGetValue("max-upload-mb", out var mb))
            options = options with { MaxUploadBytes = Positive(mb, "max-upload-mb") * 1024 * 1024 };
        if (values.TryGetValue("timeout", out var seconds))
            options = options with { RequestTimeout = TimeSpan.FromSeconds(Positive(seconds, "timeout")) };
        if (values.TryGetValue("max-models", out var models)) options = options with { MaxModels = Positive(models, "max-models") };
        if (values.TryGetValue("max-streams", out var streams)) options = options with { MaxStreams = Positive(streams, "max-streams") };
        if (values.TryGetValue("max-train-mb", out var trainMb))
            options = options with { MaxTrainingUploadBytes = Positive(trainMb, "max-train-mb") * 1024L * 1024 };
        return options;
    }

    private static int Positive(string value, string name)
        => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 && n <= 1_000
            ? n : throw new UsageException($"--{name} must be a whole number from 1 to 1000, got '{value}'.");

    /// <summary>A command-line mistake; the message says what is wrong.</summary>
    public sealed class UsageException(string message) : Exception(message);

    /// <summary>
    /// Loads the model and builds the app (not started). Tests and the load benchmark start it on a loopback port;
    /// <paramref name="logging"/> replaces the console log (single lines with the request id).
    /// </summary>
    public static WebApplication Build(WebOptions options, Action<ILoggingBuilder>? logging = null)
    {
        // The command line is ours (Parse), so a misspelt option cannot pass unnoticed as configuration; --urls goes on
        // to ASP.NET Core as its own command-line setting, so that it, ASPNETCORE_URLS and appsettings' Urls keep ASP.NET
        // Core's precedence (and its default, http://localhost:5000, when none is set). The content root is the app's
        // folder, where the build copies an appsettings.json of the project.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = options.Urls is null ? [] : ["--urls", options.Urls],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        // The request's scope (connection, path, RequestId) is enough to follow a request; trace and span ids are noise here.
        builder.Logging.Configure(l => l.ActivityTrackingOptions = ActivityTrackingOptions.None);
        if (logging is not null) logging(builder.Logging);
        else
            builder.Logging.AddSimpleConsole(c =>
            {
                // Scopes carry ASP.NET Core's RequestId, which every answer also sends as X-Request-Id.
                c.IncludeScopes = true;
                c.SingleLine = true;
                c.TimestampFormat = "HH:mm:ss.fff ";
            });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxUploadBytes;
        });
        builder.Services.Configure<FormOptions>(f => f.MultipartBodyLengthLimit = options.MaxUploadBytes);
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(_ => new ModelServer(options.ModelPath, options.Concurrency));
        builder.Services.AddSingleton(_ => new ModelStore(options.MaxModels));
        builder.Services.AddSingleton<Teaching>();
        builder.Services.AddSingleton<LiveStreams>();

        var app = builder.Build();
        // Loaded now, not at the first request: a model that cannot be served stops the start, and /health is true.
        ModelServer loaded;
        try
        {
            loaded = app.Services.GetRequiredService<ModelServer>();
        }
        catch
        {
            ((IDisposable)app).Dispose();
            throw;
        }
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AudioClassification.Web");
        log.LogInformation("Model {Model} loaded: {Count} classes ({Classes}). {Device}", loaded.ModelPath, loaded.ClassNames.Count, string.Join(", ", loaded.ClassNames), loaded.Device);

        app.Use(async (context, next) =>
        {
            context.Response.Headers["X-Request-Id"] = context.TraceIdentifier;
            try
            {
                await next(context);
            }
            catch (Exception e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested && e is not OutOfMemoryException)
            {
                // A bug, not the upload's fault: logged in full, answered without internals.
                log.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
                await Error(StatusCodes.Status500InternalServerError, "The server failed on this request; its log has the details.").ExecuteAsync(context);
            }
        });

        // Live streams: ASP.NET Core's WebSockets middleware, with pings so that idle proxies keep the connection.
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) });

        foreach (var (name, type) in PageFiles)
        {
            string text = ReadPage(name);
            app.MapGet(name == "index.html" ? "/" : "/" + name, () => Results.Text(text, type));
        }
        app.MapGet("/health", () => Results.Json(new Health("ready", Path.GetFileName(loaded.ModelPath), loaded.ClassNames)));
        // Handlers take the server as a parameter: a lambda of HttpContext alone would be a RequestDelegate, whose
        // returned IResult ASP.NET Core discards.
        app.MapPost("/predict", async (HttpContext context, ModelServer startup, ModelStore store) =>
        {
            var (server, lease, missing) = ResolveModel(context, startup, store, options);
            if (missing is not null) return missing;
            using (lease)
                return await Serve(context, options, log, "predict", async (audio, name, cancellation) =>
                {
                    var prediction = await server!.PredictAsync(audio, name, cancellation);
                    log.LogInformation("predict {Name} ({Bytes} bytes) with {Model}: {Label} {Score:P1} in {Milliseconds:F1} ms",
                        name, audio.Length, lease is null ? "the start-up model" : "model " + lease.Model.Id,
                        prediction.Label, prediction.Scores[prediction.Label], prediction.Milliseconds);
                    return Results.Json(prediction);
                });
        });
        app.MapPost("/spectrogram", (HttpContext context, ModelServer server) => Serve(context, options, log, "spectrogram",
            async (audio, name, cancellation) => Results.Bytes(await server.SpectrogramPngAsync(audio, name, cancellation), "image/png")));
        LiveEndpoint.Map(app, options, log);
        TeachEndpoints.Map(app, options, log);
        return app;
    }

    /// <summary>
    /// The model a request names with <c>?model=ID</c>, leased for the request, or the start-up model when it names none;
    /// an answer of 404 when the id is unknown (never trained here, or evicted).
    /// </summary>
    internal static (ModelServer? Server, ModelLease? Lease, IResult? Missing) ResolveModel(HttpContext context, ModelServer startup, ModelStore store, WebOptions options)
    {
        string? id = context.Request.Query["model"];
        if (string.IsNullOrEmpty(id)) return (startup, null, null);
        return store.Lease(id) is { } lease ? (lease.Model.Server, lease, null) : (null, null, Error(StatusCodes.Status404NotFound, NoSuchModel(id, options)));
    }

    internal static string NoSuchModel(string id, WebOptions options)
        => $"There is no model '{(id.Length > 40 ? id[..37] + "..." : id)}': it was not trained or uploaded here, or it was evicted " +
           $"(the server keeps the {options.MaxModels} most recent; --max-models).";

    /// <summary>What <c>GET /health</c> answers once the model is loaded.</summary>
    public sealed record Health(string Status, string Model, IReadOnlyList<string> Classes);

    /// <summary>Every error answer: what went wrong, and the request id to find it in the log.</summary>
    public sealed record ErrorAnswer(string Error, string RequestId);

    internal static IResult Error(int status, string message) => new ErrorResult(status, message);

    private sealed class ErrorResult(int status, string message) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
            => Results.Json(new ErrorAnswer(message, context.TraceIdentifier), statusCode: status).ExecuteAsync(context);
    }

    /// <summary>Reads the upload within the time limit, runs <paramref name="work"/> on it, and maps every failure the
    /// client caused to a 4xx answer with a message.</summary>
    internal static async Task<IResult> Serve(HttpContext context, WebOptions options, ILogger log, string endpoint,
        Func<byte[], string, CancellationToken, Task<IResult>> work)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        limit.CancelAfter(options.RequestTimeout);
        bool TimedOut() => limit.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;
        string seconds = options.RequestTimeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

        Upload upload;
        try
        {
            upload = await ReadUploadAsync(context.Request, options, limit.Token);
        }
        catch (BadHttpRequestException e)
        {
            log.LogWarning("{Endpoint}: bad upload: {Message}", endpoint, e.Message);
            return Error(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge(options) : e.Message);
        }
        catch (OperationCanceledException) when (TimedOut())
        {
            log.LogWarning("{Endpoint}: the upload took longer than {Seconds} s", endpoint, seconds);
            return Error(StatusCodes.Status408RequestTimeout, $"The upload took longer than the request time limit ({seconds} s).");
        }
        catch (Exception e) when (e is InvalidDataException or IOException && !context.RequestAborted.IsCancellationRequested)
        {
            // ASP.NET Core's form reader: a malformed multipart body.
            log.LogWarning("{Endpoint}: unreadable form: {Message}", endpoint, e.Message);
            return Error(StatusCodes.Status400BadRequest, $"The multipart form cannot be read: {e.Message}");
        }
        if (upload.Problem is string problem)
        {
            log.LogWarning("{Endpoint}: {Problem}", endpoint, problem);
            return Error(StatusCodes.Status400BadRequest, problem);
        }

        try
        {
            return await work(upload.Bytes, upload.Name, limit.Token);
        }
        catch (BadAudioException e)
        {
            log.LogWarning("{Endpoint}: {Message}", endpoint, e.Message);
            return Error(StatusCodes.Status400BadRequest, e.Message);
        }
        catch (OperationCanceledException) when (TimedOut())
        {
            log.LogWarning("{Endpoint} {Name}: not done within {Seconds} s", endpoint, upload.Name, seconds);
            return Error(StatusCodes.Status503ServiceUnavailable, $"The server could not answer within the request time limit ({seconds} s); it is busy, try again.");
        }
    }

    private static string TooLarge(WebOptions options)
        => $"The upload is larger than the limit of {options.MaxUploadBytes / (1024.0 * 1024):0.#} MiB (--max-upload-mb).";

    private readonly record struct Upload(byte[] Bytes, string Name, string? Problem);

    /// <summary>The audio file of a request: the multipart form field "file", or else the whole body.</summary>
    private static async Task<Upload> ReadUploadAsync(HttpRequest request, WebOptions options, CancellationToken cancellation)
    {
        if (request.ContentLength > options.MaxUploadBytes)
            throw new BadHttpRequestException(TooLarge(options), StatusCodes.Status413PayloadTooLarge);
        byte[] bytes;
        string name;
        // Only a multipart form is read as a form: curl's --data-binary sends a raw file as x-www-form-urlencoded.
        if (request.HasFormContentType && request.ContentType!.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            var form = await request.ReadFormAsync(cancellation);
            if (form.Files.GetFile("file") is not IFormFile file)
                return new([], "", form.Files.Count == 0
                    ? "The form has no file: send the audio file as the form field 'file', or as the request body."
                    : $"The form has no field 'file' (it has {string.Join(", ", form.Files.Select(f => $"'{f.Name}'"))}).");
            name = Path.GetFileName(file.FileName) is { Length: > 0 } fileName ? fileName : "file";
            bytes = new byte[file.Length];
            await using var stream = file.OpenReadStream();
            await stream.ReadExactlyAsync(bytes, cancellation);
        }
        else
        {
            name = "request body";
            using var buffer = new MemoryStream(request.ContentLength is long length ? (int)length : 64 * 1024);
            await request.Body.CopyToAsync(buffer, cancellation);
            bytes = buffer.ToArray();
        }
        if (name.Length > 80) name = name[..77] + "...";
        return bytes.Length == 0
            ? new(bytes, name, $"The upload '{name}' is empty: send a WAV file as the request body or as the form field 'file'.")
            : new(bytes, name, null);
    }

    /// <summary>The page's files (Page/), embedded in the assembly, and their types.</summary>
    private static readonly (string Name, string Type)[] PageFiles =
    [
        ("index.html", "text/html; charset=utf-8"), ("page.js", "text/javascript; charset=utf-8"), ("capture.js", "text/javascript; charset=utf-8"),
    ];

    private static string ReadPage(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The page's {name} is not embedded in the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
