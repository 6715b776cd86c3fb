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

    /// <summary>Requests computed at once; the others wait (without a thread) within their time limit.</summary>
    public int Concurrency { get; init; } = Environment.ProcessorCount;
}

/// <summary>The web app: command line, server set-up and endpoints.</summary>
public static class WebSample
{
    public const string Usage = """
        usage: AudioClassification.Web [--model PATH] [--urls URLS] [--max-upload-mb N] [--timeout SECONDS]

          --model PATH        model zip made by the console sample (default: AudioClassifier.zip in the current folder)
          --urls URLS         where to listen (http://127.0.0.1:0 picks a free port); without it, ASP.NET Core's
                              settings, in its order: Urls in appsettings.json, ASPNETCORE_URLS, http://localhost:5000
          --max-upload-mb N   largest upload, in MiB (default 10); larger ones get 413
          --timeout SECONDS   time limit of a request (default 10); slower uploads get 408, a busy server 503

        Endpoints: GET / (the page), POST /predict and POST /spectrogram (body: an audio file, raw or as the multipart
        form field 'file'), GET /health.
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
        string[] known = ["model", "urls", "max-upload-mb", "timeout"];
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

        app.MapGet("/", () => Results.Text(Page, "text/html; charset=utf-8"));
        app.MapGet("/health", () => Results.Json(new Health("ready", Path.GetFileName(loaded.ModelPath), loaded.ClassNames)));
        // Handlers take the server as a parameter: a lambda of HttpContext alone would be a RequestDelegate, whose
        // returned IResult ASP.NET Core discards.
        app.MapPost("/predict", (HttpContext context, ModelServer server) => Serve(context, options, log, "predict",
            async (audio, name, cancellation) =>
            {
                var prediction = await server.PredictAsync(audio, name, cancellation);
                log.LogInformation("predict {Name} ({Bytes} bytes): {Label} {Score:P1} in {Milliseconds:F1} ms",
                    name, audio.Length, prediction.Label, prediction.Scores[prediction.Label], prediction.Milliseconds);
                return Results.Json(prediction);
            }));
        app.MapPost("/spectrogram", (HttpContext context, ModelServer server) => Serve(context, options, log, "spectrogram",
            async (audio, name, cancellation) => Results.Bytes(await server.SpectrogramPngAsync(audio, name, cancellation), "image/png")));
        return app;
    }

    /// <summary>What <c>GET /health</c> answers once the model is loaded.</summary>
    public sealed record Health(string Status, string Model, IReadOnlyList<string> Classes);

    /// <summary>Every error answer: what went wrong, and the request id to find it in the log.</summary>
    public sealed record ErrorAnswer(string Error, string RequestId);

    private static IResult Error(int status, string message) => new ErrorResult(status, message);

    private sealed class ErrorResult(int status, string message) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
            => Results.Json(new ErrorAnswer(message, context.TraceIdentifier), statusCode: status).ExecuteAsync(context);
    }

    /// <summary>Reads the upload within the time limit, runs <paramref name="work"/> on it, and maps every failure the
    /// client caused to a 4xx answer with a message.</summary>
    private static async Task<IResult> Serve(HttpContext context, WebOptions options, ILogger log, string endpoint,
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

    /// <summary>The page (Page/index.html), embedded in the assembly.</summary>
    private static readonly string Page = ReadPage();

    private static string ReadPage()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("index.html")
            ?? throw new InvalidOperationException("The page index.html is not embedded in the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
