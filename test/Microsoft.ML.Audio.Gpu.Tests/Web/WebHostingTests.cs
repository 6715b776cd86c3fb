using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>
/// The web sample started as a user starts it (<c>dotnet run --project samples/AudioClassification.Web</c>, in its own
/// process) listens where ASP.NET Core's settings say: <c>ASPNETCORE_URLS</c>, an appsettings file's <c>Urls</c>, and
/// <c>--urls</c> above both (issue 30: it used to listen on localhost:5000 whatever ASPNETCORE_URLS said).
/// </summary>
[TestClass]
public sealed class WebHostingTests
{
    private static string Dir => Path.GetDirectoryName(typeof(WebHostingTests).Assembly.Location)!;

    private static string RepoRoot => Path.GetFullPath(Path.Combine(Dir, "..", "..", "..", "..", ".."));

    private static string Configuration => Path.GetFileName(Path.GetDirectoryName(Dir))!;

    /// <summary>The web sample's output folder: its content root, where the build puts appsettings files.</summary>
    private static string AppFolder => Path.Combine(RepoRoot, "samples", "AudioClassification.Web", "bin", Configuration, Path.GetFileName(Dir));

    [TestMethod]
    public async Task DotnetRun_WithAspNetCoreUrls_ServesHealthOnThatPort()
    {
        int port = FreePort();

        await using var server = Start(new() { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" }, "--model", WebTestModel.ModelPath);

        await server.AssertHealthyOn(port);
        StringAssert.Contains(server.Output, $"on http://127.0.0.1:{port} ");
    }

    [TestMethod]
    public async Task UrlsOption_WinsOverAspNetCoreUrls_AsAspNetCoresCommandLineDoes()
    {
        int fromEnvironment = FreePort(), fromCommandLine = FreePort();

        await using var server = Start(new() { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{fromEnvironment}" },
            "--model", WebTestModel.ModelPath, "--urls", $"http://127.0.0.1:{fromCommandLine}");

        await server.AssertHealthyOn(fromCommandLine);
        Assert.IsFalse(Listening(fromEnvironment), $"the server also listens on ASPNETCORE_URLS' port:\n{server.Output}");
    }

    [TestMethod]
    public async Task AppSettingsUrls_IsHonoured()
    {
        // An environment of this test's own, so that its appsettings.<environment>.json affects no other run.
        string environment = "KapreTest" + Guid.NewGuid().ToString("N");
        string settings = Path.Combine(AppFolder, $"appsettings.{environment}.json");
        int port = FreePort();
        Assert.IsTrue(Directory.Exists(AppFolder), $"the web sample is not built at {AppFolder}");
        File.WriteAllText(settings, JsonSerializer.Serialize(new { Urls = $"http://127.0.0.1:{port}" }));
        try
        {
            await using var server = Start(new() { ["ASPNETCORE_ENVIRONMENT"] = environment }, "--model", WebTestModel.ModelPath);

            await server.AssertHealthyOn(port);
        }
        finally
        {
            File.Delete(settings);
        }
    }

    /// <summary>A port nobody listens on now (the system's choice; the server takes it a moment later).</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool Listening(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>`dotnet run --no-build` of the web sample (the solution's build made it), with <paramref name="environment"/>
    /// added and the URL settings of this process removed.</summary>
    private static RunningServer Start(Dictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "run", "--project", Path.Combine(RepoRoot, "samples", "AudioClassification.Web"), "-c", Configuration, "--no-build", "--" })
            start.ArgumentList.Add(a);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var name in new[] { "ASPNETCORE_URLS", "DOTNET_URLS", "URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT" })
            start.Environment.Remove(name);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        return new RunningServer(Process.Start(start)!);
    }

    private sealed class RunningServer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();

        public RunningServer(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        /// <summary>Waits (at most 3 minutes: the model loads and runs once before the server listens) for
        /// <c>/health</c> on the port and checks its answer.</summary>
        public async Task AssertHealthyOn(int port)
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (true)
            {
                Assert.IsFalse(_process.HasExited, $"the server stopped (exit {(_process.HasExited ? _process.ExitCode : 0)}):\n{Output}");
                try
                {
                    var answer = await client.GetAsync($"http://127.0.0.1:{port}/health");
                    Assert.AreEqual(HttpStatusCode.OK, answer.StatusCode, Output);
                    using var health = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
                    Assert.AreEqual("ready", health.RootElement.GetProperty("status").GetString());
                    Assert.AreEqual(Path.GetFileName(WebTestModel.ModelPath), health.RootElement.GetProperty("model").GetString());
                    return;
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(250);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
