using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>
/// Chromium, headless, driven through the Chrome DevTools Protocol over one WebSocket: the browser test and the docs'
/// screenshot (the benchmarks app links this file). The system's browser is used (Debian's chromium, installed by
/// build/install-prerequisites.sh); nothing is downloaded at run time, unlike Playwright or Puppeteer.
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _profile;
    private readonly ClientWebSocket _socket;
    private readonly Task _receiving;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonObject>> _calls = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonObject>> _events = new();
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly CancellationToken _cancellation;
    private int _nextId;
    private string? _session;

    private HeadlessChromium(Process process, DirectoryInfo profile, ClientWebSocket socket, CancellationToken cancellation)
    {
        (_process, _profile, _socket, _cancellation) = (process, profile, socket, cancellation);
        _receiving = Task.Run(ReceiveAsync, CancellationToken.None);
    }

    /// <summary>The browser: $CHROMIUM, Debian's binary behind its wrapper script, or the first on the PATH.</summary>
    public static string? Find()
    {
        if (Environment.GetEnvironmentVariable("CHROMIUM") is { Length: > 0 } configured) return configured;
        if (File.Exists("/usr/lib/chromium/chromium")) return "/usr/lib/chromium/chromium";
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(name => path.Select(dir => Path.Combine(dir, name))).FirstOrDefault(File.Exists);
    }

    /// <summary>Starts the browser with one blank page of the given size, ready for <see cref="CallAsync"/>.</summary>
    /// <param name="cancellation">Ends every wait of this browser's calls (a guard against a hung browser, not a time limit).</param>
    /// <param name="arguments">More command-line switches (e.g. a fake microphone).</param>
    public static async Task<HeadlessChromium> StartAsync(int width, int height, CancellationToken cancellation, params string[] arguments)
    {
        string executable = Find() ?? throw new InvalidOperationException(
            "No Chromium found: run build/install-prerequisites.sh (it installs Debian's chromium), or set CHROMIUM to a Chromium or Chrome.");
        var profile = Directory.CreateTempSubdirectory("kapre-chromium-");
        var start = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in (string[])
        [
            "--headless", "--remote-debugging-port=0", $"--user-data-dir={profile.FullName}",
            // Containers and CI run as root without user namespaces, where Chromium's sandbox cannot start; the browser
            // only visits this process's loopback server.
            "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--mute-audio",
            $"--window-size={width},{height}", .. arguments, "about:blank",
        ])
            start.ArgumentList.Add(argument);

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var endpoint = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (errors) errors.AppendLine(e.Data);
            // The browser prints its WebSocket address once it listens (the port was chosen by the system).
            const string listening = "DevTools listening on ";
            if (e.Data.StartsWith(listening, StringComparison.Ordinal)) endpoint.TrySetResult(e.Data[listening.Length..].Trim());
        };
        process.Exited += (_, _) =>
        {
            lock (errors) endpoint.TrySetException(new InvalidOperationException($"{executable} exited with {process.ExitCode} before listening:\n{errors}"));
        };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            var socket = new ClientWebSocket();
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            await socket.ConnectAsync(new Uri(await endpoint.Task.WaitAsync(cancellation)), cancellation);
            var browser = new HeadlessChromium(process, profile, socket, cancellation);
            string target = (await browser.CallAsync("Target.createTarget", new JsonObject { ["url"] = "about:blank" }))["targetId"]!.GetValue<string>();
            // Flat sessions: the page's commands travel over the browser's socket, tagged with the session.
            browser._session = (await browser.CallAsync("Target.attachToTarget", new JsonObject { ["targetId"] = target, ["flatten"] = true }))["sessionId"]!.GetValue<string>();
            await browser.CallAsync("Page.enable");
            await browser.CallAsync("Emulation.setDeviceMetricsOverride", new JsonObject
            {
                ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = false,
            });
            return browser;
        }
        catch
        {
            Stop(process, profile);
            throw;
        }
    }

    /// <summary>Opens <paramref name="url"/> and returns once its load event has fired.</summary>
    public async Task NavigateAsync(Uri url)
    {
        var loaded = Event("Page.loadEventFired");
        var answer = await CallAsync("Page.navigate", new JsonObject { ["url"] = url.ToString() });
        if (answer["errorText"] is JsonNode error) throw new InvalidOperationException($"Navigation to {url} failed: {error}");
        await loaded.WaitAsync(_cancellation);
    }

    /// <summary>Sets the files of the <c>input type=file</c> that <paramref name="selector"/> finds, as a user's pick
    /// does (the page gets its change event).</summary>
    public async Task SetFilesAsync(string selector, params string[] paths)
    {
        var root = (await CallAsync("DOM.getDocument"))["root"]!["nodeId"]!.GetValue<int>();
        int node = (await CallAsync("DOM.querySelector", new JsonObject { ["nodeId"] = root, ["selector"] = selector }))["nodeId"]!.GetValue<int>();
        if (node == 0) throw new InvalidOperationException($"The page has no element '{selector}'.");
        await CallAsync("DOM.setFileInputFiles", new JsonObject { ["nodeId"] = node, ["files"] = new JsonArray([.. paths.Select(p => JsonValue.Create(p))]) });
    }

    /// <summary>Evaluates a JavaScript expression in the page; a promise is awaited. Returns its value as JSON.</summary>
    /// <param name="expression">The script.</param>
    /// <param name="userGesture">Run it as if the user had acted (a click), which browsers require to start audio.</param>
    public async Task<JsonNode?> EvaluateAsync(string expression, bool userGesture = false)
    {
        var answer = await CallAsync("Runtime.evaluate", new JsonObject
        {
            ["expression"] = expression, ["awaitPromise"] = true, ["returnByValue"] = true, ["userGesture"] = userGesture,
        });
        if (answer["exceptionDetails"] is JsonNode failure) throw new InvalidOperationException($"The page's script failed: {failure.ToJsonString()}");
        return answer["result"]!["value"];
    }

    /// <summary>A PNG of the page as it is shown.</summary>
    public async Task<byte[]> ScreenshotAsync()
        => Convert.FromBase64String((await CallAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" }))["data"]!.GetValue<string>());

    /// <summary>Sends one command (to the page once attached) and returns its result.</summary>
    public async Task<JsonObject> CallAsync(string method, JsonObject? parameters = null)
    {
        int id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _calls[id] = reply;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        if (_session is not null) message["sessionId"] = _session;
        await _sending.WaitAsync(_cancellation);
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, endOfMessage: true, _cancellation);
        }
        finally
        {
            _sending.Release();
        }
        var answer = await reply.Task.WaitAsync(_cancellation);
        if (answer["error"] is JsonNode error) throw new InvalidOperationException($"{method} failed: {error.ToJsonString()}");
        return answer["result"] as JsonObject ?? [];
    }

    /// <summary>A task that completes with the next event <paramref name="method"/>: ask for it before causing it.</summary>
    private Task<JsonObject> Event(string method)
        => _events.GetOrAdd(method, _ => new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                var part = await _socket.ReceiveAsync(buffer, CancellationToken.None);
                if (part.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, part.Count);
                if (!part.EndOfMessage) continue;
                var json = JsonNode.Parse(message.GetBuffer().AsSpan(0, (int)message.Length))!.AsObject();
                message.SetLength(0);
                if (json["id"] is JsonNode id && _calls.TryRemove(id.GetValue<int>(), out var call)) call.TrySetResult(json);
                else if (json["method"]?.GetValue<string>() is string method && _events.TryRemove(method, out var waiter)) waiter.TrySetResult(json);
            }
        }
        // The socket closed or was aborted (DisposeAsync): the calls still waiting get the failure below.
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException or IOException) { }
        foreach (var call in _calls.Values) call.TrySetException(new InvalidOperationException("The browser closed its DevTools connection."));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _session = null;
            await CallAsync("Browser.close").WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or WebSocketException or OperationCanceledException) { }
        _socket.Abort();
        _socket.Dispose();
        await _receiving;
        Stop(_process, _profile);
    }

    private static void Stop(Process process, DirectoryInfo profile)
    {
        if (!process.WaitForExit(TimeSpan.FromSeconds(10))) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
        try { profile.Delete(recursive: true); } catch (IOException) { }
    }
}

/// <summary>What a script needs to know of the web sample's page (samples/AudioClassification.Web/Page/index.html).</summary>
internal static class SamplePage
{
    /// <summary>
    /// JavaScript: a promise of what the page shows once its upload is classified. The page sets body's data-state and
    /// fires "kapre:done" when it has shown a result or an error; the state is read first, as the event may be past.
    /// </summary>
    public const string WhenDone = """
        new Promise(resolve => {
          const read = () => ({
            state: document.body.dataset.state,
            label: document.getElementById("label").textContent,
            status: document.getElementById("status").textContent,
            bars: document.querySelectorAll("#scores .bar").length,
            spectrogramWidth: document.getElementById("spectrogram").naturalWidth,
          });
          const state = document.body.dataset.state;
          if (state === "done" || state === "error") resolve(read());
          else document.addEventListener("kapre:done", () => resolve(read()), { once: true });
        })
        """;

    /// <summary>
    /// JavaScript: a promise of what live mode shows once <paramref name="count"/> detections are listed, once the server
    /// has heard <paramref name="seconds"/> of audio, or on an error: the stream's state and status, the seconds heard,
    /// and the detections, oldest first.
    /// </summary>
    public static string WhenDetected(int count, double seconds) => $$"""
        new Promise(resolve => {
          const read = () => ({
            live: document.body.dataset.live,
            heard: Number(document.body.dataset.heard || 0),
            status: document.getElementById("live-status").textContent,
            detections: [...document.querySelectorAll("#detections li")].reverse()
              .map(li => ({ label: li.dataset.label, start: Number(li.dataset.start), end: Number(li.dataset.end) })),
          });
          const check = () => {
            const shown = read();
            const done = shown.detections.length >= {{count}} || shown.heard >= {{seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}} || shown.live === "error";
            if (done) resolve(shown);
            return done;
          };
          if (!check()) { const timer = setInterval(() => { if (check()) clearInterval(timer); }, 100); }
        })
        """;

    /// <summary>JavaScript: a promise of the training's outcome in teach mode: the model's id, or "error: ..." with the
    /// page's message.</summary>
    public const string WhenTrained = """
        new Promise(resolve => {
          const state = document.body.dataset.training;
          if (state === "done") resolve(new URLSearchParams(location.search).get("model"));
          else if (state === "error") resolve("error: " + document.getElementById("teach-status").textContent);
          else document.addEventListener("kapre:trained", e => resolve(e.detail), { once: true });
        })
        """;
}
