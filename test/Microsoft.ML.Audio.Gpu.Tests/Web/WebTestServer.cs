using AudioClassification.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>The web sample's real server (Kestrel) on a free loopback port, in this process, and a client for it.</summary>
internal sealed class WebTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebTestServer(WebApplication app, Uri address, LogRecorder log)
    {
        _app = app;
        Log = log;
        Address = address;
        Client = new HttpClient(new SocketsHttpHandler
        {
            // An upload over the size limit is refused before its body is read; the client waits for that answer
            // instead of sending the body after a second (and seeing the connection closed under it).
            Expect100ContinueTimeout = TimeSpan.FromMinutes(5),
        }) { BaseAddress = address, Timeout = TimeSpan.FromMinutes(5) };
    }

    public Uri Address { get; }

    /// <summary>The app's services: the model store, the live streams, the trainings.</summary>
    public IServiceProvider Services => _app.Services;

    public HttpClient Client { get; }

    /// <summary>The server's log.</summary>
    public LogRecorder Log { get; }

    public static async Task<WebTestServer> StartAsync(WebOptions? options = null)
    {
        var log = new LogRecorder();
        options ??= new WebOptions { ModelPath = WebTestModel.ModelPath };
        var app = WebSample.Build(options with { Urls = "http://127.0.0.1:0" }, logging => logging.AddProvider(log));
        await app.StartAsync();
        return new WebTestServer(app, new Uri(app.Urls.Single()), log);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Records every log entry with the values of its scopes (ASP.NET Core's RequestId among them).</summary>
internal sealed class LogRecorder : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public sealed record Entry(LogLevel Level, string Category, string Message, IReadOnlyDictionary<string, object?> Scope, Exception? Exception);

    private readonly List<Entry> _entries = [];

    public IReadOnlyList<Entry> Entries
    {
        get
        {
            lock (_entries) return [.. _entries];
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    /// <summary>The errors logged so far, with their exceptions: for the message of a failed assertion.</summary>
    public string Errors() => string.Join("\n", Entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Message}: {e.Exception}"));

    public void Dispose() { }

    private sealed class Logger(LogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scope = new Dictionary<string, object?>();
            owner._scopes.ForEachScope((value, values) =>
            {
                if (value is IEnumerable<KeyValuePair<string, object?>> pairs)
                    foreach (var (key, item) in pairs) values[key] = item;
            }, scope);
            lock (owner._entries) owner._entries.Add(new Entry(logLevel, category, formatter(state, exception), scope, exception));
        }
    }
}
