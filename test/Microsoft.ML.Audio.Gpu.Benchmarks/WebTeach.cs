// The web sample's teach and live modes, measured against the sample running in its own process (as a user runs it):
//
//   --web-teach: POST /train with 10 clips each of six bundled words (60 clips, the done-when of issue 33), timed by the
//     client (upload to answer), three times; then POST /predict?model=ID on 20 other voices per word.
//   --web-stream: a model taught the six words and a background recording, then a recording of 20 words by ten unseen
//     voices with 1.5-2.5 s of quiet noise between them streamed to GET /listen at real-time pace (0.1 s messages) by
//     1, then N clients at once: the server process's CPU seconds per second of audio, and each detection's delay after
//     its word's end (the client's clock: from sending the word's last sample to receiving the detection).
//
//   --web-screenshots DIR: the page's steps in headless Chromium, for docs/web-sample.md: classify a clip
//     (web-sample.png), teach three words from files (web-sample-teach.png), the training's progress (held at its
//     embedding stage for the picture: web-sample-training.png), then live mode hearing a fake microphone
//     (web-sample-live.png). This one runs the server in this process.
//
//   dotnet run -c Release --project test/Microsoft.ML.Audio.Gpu.Benchmarks -- --web-teach|--web-stream|--web-screenshots DIR
//       --model AudioClassifier.zip [--words yes,no,up,down,left,right] [--streams 4] [--out FILE]
//
// The server is samples/AudioClassification.Web's build output (dotnet build Kapre.MLNet.sln -c Release first).
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Audio.Gpu.Tests.Web;

internal static class WebTeach
{
    private static readonly string[] DefaultWords = ["yes", "no", "up", "down", "left", "right"];

    public static async Task<int> Run(string[] args)
    {
        string? Value(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        string model = Path.GetFullPath(Value("--model") ?? "AudioClassifier.zip");
        var words = (Value("--words") ?? string.Join(',', DefaultWords)).Split(',');
        int streams = int.Parse(Value("--streams") ?? "4", CultureInfo.InvariantCulture);
        var report = new StringBuilder();
        void Say(string line)
        {
            Console.WriteLine(line);
            report.AppendLine(line);
        }

        // The first 10 voices teach; 20 of the others are the unseen voices.
        var teach = BundledWords.TeachingVoices.ToArray();
        var unseen = BundledWords.UnseenVoices.Take(20).ToArray();
        if (Value("--web-screenshots") is string folder) return await Screenshots(model, folder);
        await using var server = await ServerProcess.StartAsync(model);
        Say($"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}; the web sample in its own process (pid {server.Pid}), " +
            $"start-up model {Path.GetFileName(model)}; words {string.Join(", ", words)}; teaching voices {string.Join(", ", teach)}.");

        if (args.Contains("--web-teach"))
        {
            for (int run = 1; run <= 3; run++)
            {
                var form = TeachForm(words, teach, background: false);
                var watch = Stopwatch.StartNew();
                var answer = await server.TrainAsync(form);
                Say(string.Create(CultureInfo.InvariantCulture,
                    $"POST /train #{run}: {form.Count()} clips, answered in {watch.Elapsed.TotalSeconds:F2} s (server: {answer["milliseconds"]!.GetValue<double>() / 1000:F2} s; " +
                    $"clip {answer["clipSeconds"]} s); model {answer["model"]}"));
                if (run < 3) continue;
                int right = 0, total = 0;
                var confusion = new Dictionary<(string, string), int>();
                foreach (var word in words)
                    foreach (var voice in unseen)
                    {
                        var predicted = await server.PredictAsync(answer["model"]!.GetValue<string>(), BundledWords.File(word, voice));
                        total++;
                        if (predicted == word) right++;
                        confusion[(word, predicted)] = confusion.GetValueOrDefault((word, predicted)) + 1;
                    }
                Say(string.Create(CultureInfo.InvariantCulture, $"POST /predict?model=ID on {unseen.Length} unseen voices per word: {right} of {total} right ({100.0 * right / total:F1}%)."));
                Say("| word | " + string.Join(" | ", words) + " |");
                Say("| --- |" + string.Concat(words.Select(_ => " ---: |")));
                foreach (var word in words) Say($"| {word} | " + string.Join(" | ", words.Select(p => confusion.GetValueOrDefault((word, p)))) + " |");
            }
        }

        if (args.Contains("--web-stream"))
        {
            var taught = await server.TrainAsync(TeachForm(words, teach, background: true));
            string id = taught["model"]!.GetValue<string>();
            var sequence = Enumerable.Range(0, 20).Select(i => (words[i % words.Length], unseen[i % 10])).ToList();
            var (audio, truth) = BundledWords.Recording(sequence, seed: 29);
            Say(string.Create(CultureInfo.InvariantCulture,
                $"Model {id} taught {string.Join(", ", words)} and 10 s of noise as _background_ ({taught["examples"]!.ToJsonString()}, clip {taught["clipSeconds"]} s). " +
                $"Recording: {truth.Count} words by 10 unseen voices in {audio.Length / (double)BundledWords.SampleRate:F1} s, quiet noise (-55 dBFS) between them."));
            Say("");
            Say("| streams at once | words found (right label, overlapping) | false alarms | delay after the word's end: median / p95 / max (s) | server CPU s per s of audio |");
            Say("| ---: | ---: | ---: | ---: | ---: |");
            foreach (int n in new[] { 1, streams }.Distinct())
            {
                var cpuBefore = server.CpuTime();
                var results = await Task.WhenAll(Enumerable.Range(0, n).Select(_ => StreamAsync(server.Address, id, audio, truth)));
                var cpu = server.CpuTime() - cpuBefore;
                double audioSeconds = n * audio.Length / (double)BundledWords.SampleRate;
                var delays = results.SelectMany(r => r.Delays).Order().ToArray();
                double P(double q) => delays.Length == 0 ? double.NaN : delays[Math.Min(delays.Length - 1, (int)Math.Ceiling(q * delays.Length) - 1)];
                Say(string.Create(CultureInfo.InvariantCulture,
                    $"| {n} | {results.Sum(r => r.Found)} of {n * truth.Count} | {results.Sum(r => r.FalseAlarms)} | {P(0.5):F2} / {P(0.95):F2} / {delays.LastOrDefault():F2} | {cpu.TotalSeconds / audioSeconds:F3} |"));
            }
        }
        if (Value("--out") is string outPath) File.WriteAllText(outPath, report.ToString());
        return 0;
    }

    private static async Task<int> Screenshots(string model, string folder)
    {
        Directory.CreateDirectory(folder);
        string[] words = ["yes", "up", "right"];
        var work = Directory.CreateTempSubdirectory("kapre-screenshots-");
        var (audio, truth) = BundledWords.Recording(Enumerable.Range(0, 6).Select(i => (words[i % 3], BundledWords.UnseenVoices[i])), seed: 7);
        string microphone = Path.Combine(work.FullName, "microphone.wav"), room = Path.Combine(work.FullName, "room.wav");
        File.WriteAllBytes(microphone, AudioClassification.Web.WavFile.Pcm16(audio, BundledWords.SampleRate));
        File.WriteAllBytes(room, AudioClassification.Web.WavFile.Pcm16(BundledWords.Noise(10 * BundledWords.SampleRate, -55, seed: 3), BundledWords.SampleRate));

        var options = new AudioClassification.Web.WebOptions { ModelPath = model, Urls = "http://127.0.0.1:0" };
        await using var app = AudioClassification.Web.WebSample.Build(options, logging => logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Warning));
        await app.StartAsync();
        var address = new Uri(app.Urls.Single());
        var teaching = app.Services.GetRequiredService<AudioClassification.Web.Teaching>();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await using var browser = await HeadlessChromium.StartAsync(1100, 760, guard.Token, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            $"--use-file-for-fake-audio-capture={microphone}%noloop", "--autoplay-policy=no-user-gesture-required");
        async Task Shot(string name)
        {
            string path = Path.Combine(folder, name);
            await File.WriteAllBytesAsync(path, await browser.ScreenshotAsync());
            Console.WriteLine($"{Path.GetFullPath(path)}");
        }

        await browser.NavigateAsync(address);
        await browser.SetFilesAsync("#file", BundledWords.File("yes", BundledWords.UnseenVoices[0]));
        await browser.EvaluateAsync(SamplePage.WhenDone);
        await Shot("web-sample.png");

        // A new document (the query differs): a change of the fragment alone would fire no load event.
        await browser.NavigateAsync(new Uri(address, "/?step=teach#teach"));
        await browser.EvaluateAsync("""
            (() => { document.getElementById("add-class").click(); const names = document.querySelectorAll(".class-name");
              for (const [i, word] of ["yes", "up", "right"].entries()) { names[i].value = word; names[i].dispatchEvent(new Event("input")); } })()
            """);
        for (int card = 0; card < 3; card++)
            await browser.SetFilesAsync($".class-card[data-key='{(card < 2 ? card : 3)}'] input[type=file]",
                [.. BundledWords.TeachingVoices.Take(6).Select(v => BundledWords.File(words[card], v))]);
        await browser.SetFilesAsync(".class-card.background input[type=file]", room);
        await Shot("web-sample-teach.png");

        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        teaching.AtStage = stage =>
        {
            if (stage != "embedding") return Task.CompletedTask;
            held.TrySetResult();
            return release.Task;
        };
        await browser.EvaluateAsync("document.getElementById('train').click()", userGesture: true);
        await held.Task.WaitAsync(guard.Token);
        await Task.Delay(1200); // the page's progress line catches up (it is streamed) and its clock moves
        await Shot("web-sample-training.png");
        release.SetResult();
        teaching.AtStage = null;
        var trained = await browser.EvaluateAsync(SamplePage.WhenTrained);
        var shown = await browser.EvaluateAsync(SamplePage.WhenDetected(truth.Count, audio.Length / (double)BundledWords.SampleRate + 3));
        await Shot("web-sample-live.png");
        Console.WriteLine($"Trained {trained}; live mode showed {shown?.ToJsonString()}");
        await app.StopAsync();
        work.Delete(recursive: true);
        return 0;
    }

    /// <summary>The multipart form of a training: ten clips per word, and optionally 10 s of noise as _background_.</summary>
    private static MultipartFormDataContent TeachForm(string[] words, string[] voices, bool background)
    {
        var form = new MultipartFormDataContent();
        foreach (var word in words)
            foreach (var voice in voices)
            {
                var file = new ByteArrayContent(File.ReadAllBytes(BundledWords.File(word, voice)));
                file.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
                form.Add(file, word, $"{voice}_{word}.wav");
            }
        if (background)
        {
            var noise = new ByteArrayContent(AudioClassification.Web.WavFile.Pcm16(BundledWords.Noise(10 * BundledWords.SampleRate, -55, seed: 3), BundledWords.SampleRate));
            form.Add(noise, "_background_", "room.wav");
        }
        return form;
    }

    private sealed record StreamResult(int Found, int FalseAlarms, List<double> Delays);

    /// <summary>Streams <paramref name="audio"/> at real-time pace in 0.1 s messages; matches each detection to the word
    /// it overlaps.</summary>
    private static async Task<StreamResult> StreamAsync(Uri address, string model, float[] audio, List<BundledWords.Word> truth)
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{address.Authority}/listen?model={model}"), CancellationToken.None);
        var pcm = BundledWords.Pcm16(audio);
        int chunk = BundledWords.SampleRate / 10;
        var sentAt = new double[(audio.Length + chunk - 1) / chunk]; // seconds on the client's clock when each message left
        var clock = Stopwatch.StartNew();
        var detections = new List<(string Label, double Start, double End, double At)>();
        var receiving = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) return;
                var message = JsonNode.Parse(buffer.AsSpan(0, result.Count))!;
                if (message["type"]!.GetValue<string>() == "detection")
                    lock (detections) detections.Add((message["label"]!.GetValue<string>(), message["start"]!.GetValue<double>(), message["end"]!.GetValue<double>(), clock.Elapsed.TotalSeconds));
            }
        });
        for (int m = 0; m < sentAt.Length; m++)
        {
            double due = m * 0.1;
            if (due > clock.Elapsed.TotalSeconds) await Task.Delay(TimeSpan.FromSeconds(due - clock.Elapsed.TotalSeconds));
            int from = m * chunk, count = Math.Min(chunk, audio.Length - from);
            await socket.SendAsync(pcm.AsMemory(2 * from, 2 * count), WebSocketMessageType.Binary, true, CancellationToken.None);
            sentAt[m] = clock.Elapsed.TotalSeconds;
        }
        await socket.SendAsync("end"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        await receiving;
        int found = 0, falseAlarms = 0;
        var delays = new List<double>();
        var matched = new bool[truth.Count];
        foreach (var d in detections)
        {
            int w = truth.FindIndex(t => t.Start < d.End && d.Start < t.End);
            if (w < 0 || truth[w].Label != d.Label || matched[w]) { falseAlarms++; continue; }
            matched[w] = true;
            found++;
            // When the message holding the word's last sample left the client.
            double endSent = sentAt[Math.Min(sentAt.Length - 1, (int)(truth[w].End * BundledWords.SampleRate) / chunk)];
            delays.Add(d.At - endSent);
        }
        return new StreamResult(found, falseAlarms, delays);
    }

    /// <summary>The web sample started with 'dotnet exec' from its build output, on a free loopback port.</summary>
    private sealed class ServerProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _http;

        private ServerProcess(Process process, Uri address)
        {
            (_process, Address) = (process, address);
            _http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(5) };
        }

        public Uri Address { get; }

        public int Pid => _process.Id;

        public static async Task<ServerProcess> StartAsync(string model)
        {
            string root = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(root, "Kapre.MLNet.sln"))) root = Path.GetDirectoryName(root.TrimEnd('/'))!;
            string dll = Path.Combine(root, "samples", "AudioClassification.Web", "bin", "Release", "net10.0", "AudioClassification.Web.dll");
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "exec", dll, "--model", model, "--urls", $"http://127.0.0.1:{port}" }) start.ArgumentList.Add(a);
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("server: " + e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{port}"));
            for (int i = 0; ; i++)
            {
                try
                {
                    using var health = await server._http.GetAsync("/health");
                    if (health.IsSuccessStatusCode) return server;
                }
                catch (HttpRequestException) when (i < 600 && !process.HasExited) { }
                await Task.Delay(200);
            }
        }

        public TimeSpan CpuTime()
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }

        public async Task<JsonNode> TrainAsync(MultipartFormDataContent form)
        {
            using var response = await _http.PostAsync("/train", form);
            string body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"/train: {(int)response.StatusCode} {body}");
            return JsonNode.Parse(body)!;
        }

        public async Task<string> PredictAsync(string model, string file)
        {
            var content = new ByteArrayContent(File.ReadAllBytes(file));
            content.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
            using var response = await _http.PostAsync($"/predict?model={model}", content);
            var json = await response.Content.ReadFromJsonAsync<JsonObject>();
            return json!["label"]!.GetValue<string>();
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
