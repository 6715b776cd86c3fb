// The web sample under load (issue 19): its real server (Kestrel on a loopback port, in this process) with a model
// made by the console sample, N concurrent clients each sending M requests to POST /predict with the bundled words
// as raw WAV bodies. Reports errors and latency percentiles as the clients see them (upload and answer included), and
// the server's own time per prediction. Optionally a screenshot of the page in headless Chromium after uploading a
// word (docs/web-sample.png).
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --web [--model AudioClassifier.zip]
//       [--clients 8] [--requests 500] [--out FILE] [--screenshot PNG]
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using AudioClassification.Web;
using Microsoft.ML.Audio.Gpu.Tests.Web;
using Microsoft.Extensions.Logging;

internal static class WebLoad
{
    private sealed record Answer(string Label, Dictionary<string, float> Scores, double Milliseconds);

    public static async Task<int> Run(string[] args)
    {
        string? Value(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        string model = Path.GetFullPath(Value("--model") ?? "AudioClassifier.zip");
        int clients = int.Parse(Value("--clients") ?? "8", CultureInfo.InvariantCulture);
        int requests = int.Parse(Value("--requests") ?? "500", CultureInfo.InvariantCulture);
        if (WebSample.MissingModel(model) is string missing)
        {
            Console.WriteLine(missing);
            return 1;
        }

        // Warnings only: one log line per request would measure the console.
        var options = new WebOptions { ModelPath = model, Urls = "http://127.0.0.1:0" };
        await using var app = WebSample.Build(options, logging => logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        var address = new Uri(app.Urls.Single());

        var files = Directory.GetFiles(AudioClassification.Cli.BundledData, "*.wav", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var bodies = files.Select(File.ReadAllBytes).ToArray();
        Console.WriteLine($"Serving {model} on {address}; {clients} clients x {requests} requests of {bodies.Length} bundled words " +
                          $"({bodies.Average(b => b.Length) / 1024:F1} KiB on average), server concurrency {options.Concurrency} ...");

        if (Value("--screenshot") is string screenshot) await Screenshot(address, files.First(f => Path.GetFileName(Path.GetDirectoryName(f)) == "yes"), screenshot);

        var latencies = new double[clients][];
        var serverTimes = new double[clients][];
        var errors = new List<string>[clients];
        var watch = new Stopwatch();
        // All clients start together, after each has made its warm-up request (connection, engine, JIT).
        var warmed = Enumerable.Range(0, clients).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var all = Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(2) };
            latencies[client] = new double[requests];
            serverTimes[client] = new double[requests];
            errors[client] = [];
            try
            {
                await Send(http, bodies[client % bodies.Length]);
                warmed[client].SetResult();
            }
            catch (Exception e)
            {
                warmed[client].SetException(e);
                throw;
            }
            await ready.Task;
            for (int r = 0; r < requests; r++)
            {
                long start = Stopwatch.GetTimestamp();
                try
                {
                    var answer = await Send(http, bodies[(client * requests + r) % bodies.Length]);
                    serverTimes[client][r] = answer.Milliseconds;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
                {
                    errors[client].Add(e.Message);
                }
                latencies[client][r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        })).ToArray();
        await Task.WhenAll(warmed.Select(w => w.Task));
        watch.Start();
        ready.SetResult();
        await Task.WhenAll(all);
        watch.Stop();

        var sorted = latencies.SelectMany(l => l).Order().ToArray();
        var server = serverTimes.SelectMany(t => t).Where(t => t > 0).Order().ToArray();
        int errorCount = errors.Sum(e => e.Count);
        double P(double[] values, double q) => values.Length == 0 ? double.NaN : values[Math.Min(values.Length - 1, (int)Math.Ceiling(q * values.Length) - 1)];
        var report = new StringBuilder();
        report.AppendLine($"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; model {Path.GetFileName(model)} " +
                          $"({new FileInfo(model).Length / 1024} KiB, the console sample's); server concurrency {options.Concurrency} (pooled PredictionEngines); " +
                          $"{clients} clients x {requests} requests to POST /predict over loopback, raw WAV bodies of the {bodies.Length} bundled words, " +
                          "after one warm-up request per client. Latency is the client's: upload, queueing, decoding, network, answer.");
        report.AppendLine();
        report.AppendLine("| requests | errors | requests/s | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | server time p50 / p99 (ms) |");
        report.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        report.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| {sorted.Length} | {errorCount} | {sorted.Length / watch.Elapsed.TotalSeconds:F0} | {P(sorted, 0.5):F1} | {P(sorted, 0.9):F1} | {P(sorted, 0.99):F1} | {sorted[^1]:F1} | {P(server, 0.5):F1} / {P(server, 0.99):F1} |"));
        foreach (var message in errors.SelectMany(e => e).Distinct().Take(5)) report.AppendLine($"\nerror: {message}");
        Console.WriteLine(report.ToString().TrimEnd());
        if (Value("--out") is string outPath) File.WriteAllText(outPath, report.ToString());
        await app.StopAsync();
        return errorCount == 0 ? 0 : 1;
    }

    private static async Task<Answer> Send(HttpClient http, byte[] wav)
    {
        var content = new ByteArrayContent(wav);
        content.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
        using var response = await http.PostAsync("/predict", content);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<Answer>())!;
    }

    /// <summary>The page after uploading <paramref name="file"/>, as a PNG, from headless Chromium.</summary>
    private static async Task Screenshot(Uri address, string file, string path)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await using var browser = await HeadlessChromium.StartAsync(1100, 600, guard.Token);
        await browser.NavigateAsync(address);
        await browser.SetFilesAsync("#file", file);
        var shown = await browser.EvaluateAsync(SamplePage.WhenDone);
        await File.WriteAllBytesAsync(path, await browser.ScreenshotAsync());
        Console.WriteLine($"Screenshot of the page after uploading {Path.GetFileName(file)}: {Path.GetFullPath(path)} (the page showed {shown?.ToJsonString()}).");
    }
}
