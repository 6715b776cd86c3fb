using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using AudioClassification.Web;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.Audio.Gpu.Training;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>
/// The web sample's live mode (<c>GET /listen</c>, a WebSocket) against its real server, from .NET's WebSocket client:
/// a recording of known words streamed to a model taught the bundled words (<see cref="WebTestModel.TaughtModelPath"/>).
/// </summary>
[TestClass]
public sealed class WebLiveTests
{
    /// <summary>The server and the reference run the same classifier on the same samples, window by window; only the CPU
    /// kernels' thread split could change a probability's last bits.</summary>
    private const float ScoreTolerance = 1e-5f;

    /// <summary>A guard against a hung server or client, not a time limit: every wait of a test ends by then.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(1);

    private static WebTestServer _server = null!;

    /// <summary>Six words (the taught three, twice) by six unseen voices, 1.5-2.5 s of quiet noise between them.</summary>
    private static (float[] Audio, List<BundledWords.Word> Words) _recording;

    [ClassInitialize]
    public static async Task Start(TestContext _)
    {
        _server = await WebTestServer.StartAsync(new WebOptions { ModelPath = WebTestModel.TaughtModelPath });
        _recording = Recording();
    }

    [ClassCleanup]
    public static async Task Stop() => await _server.DisposeAsync();

    internal static (float[] Audio, List<BundledWords.Word> Words) Recording()
    {
        var words = WebTestModel.TaughtWords;
        return BundledWords.Recording(Enumerable.Range(0, 6).Select(i => (words[i % 3], BundledWords.UnseenVoices[i])), seed: 7);
    }

    /// <summary>What the stream delivers to the server: 16-bit samples, read back as the server reads them.</summary>
    private static float[] AsReceived(byte[] pcm)
    {
        var samples = new float[pcm.Length / 2];
        for (int i = 0; i < samples.Length; i++) samples[i] = BitConverter.ToInt16(pcm, 2 * i) / 32768f;
        return samples;
    }

    private static List<AudioDetection> InProcess(string modelPath, float[] samples)
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(modelPath, out _);
        try
        {
            using var classifier = new StreamingAudioClassifier(ml, model);
            return [.. classifier.Push(samples), .. classifier.Flush()];
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>Waits for <paramref name="condition"/>; if the guard ends the wait, fails with the server's log.</summary>
    private static async Task WaitUntil(Func<bool> condition, CancellationToken guard, WebTestServer? server = null)
    {
        try
        {
            while (!condition()) await Task.Delay(20, guard);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("The condition did not come true; the server's log:\n" + string.Join("\n", (server ?? _server).Log.Entries.TakeLast(20).Select(e => $"{e.Level} {e.Message}")));
        }
    }

    private static LiveStreams Streams(WebTestServer server) => server.Services.GetRequiredService<LiveStreams>();

    [TestMethod]
    public async Task Listen_FindsEachWordOfARecording_AsTheClassifierDoesInProcess()
    {
        using var guard = new CancellationTokenSource(HangGuard);
        var (audio, words) = _recording;
        byte[] pcm = BundledWords.Pcm16(audio);
        var expected = InProcess(WebTestModel.TaughtModelPath, AsReceived(pcm));
        await using var client = await LiveClient.ConnectAsync(_server.Address, "", guard.Token);

        var ready = await client.Ready;
        // Messages of many sizes, none a whole window: the stream's windows cross them (3,200 bytes is the page's 0.1 s).
        await client.SendAsync(pcm, 3200, 2, 17_778, 640, 65_536, 1_000);
        var (status, reason) = await client.EndAsync();

        Assert.AreEqual(WebSocketCloseStatus.NormalClosure, status, reason);
        Assert.AreEqual("ready", ready["type"]!.GetValue<string>());
        Assert.AreEqual("start-up", ready["model"]!.GetValue<string>());
        CollectionAssert.AreEqual(new[] { "right", "up", "yes" }, ready["classes"]!.AsArray().Select(c => c!.GetValue<string>()).ToArray(),
            "the words, not the background class");
        Assert.AreEqual(16000, ready["sampleRate"]!.GetValue<int>());
        Assert.AreEqual(1.0, ready["windowSeconds"]!.GetValue<double>());

        var detections = client.Detections;
        Assert.AreEqual(expected.Count, detections.Count, string.Join("; ", detections.Select(d => d.ToJsonString())));
        for (int i = 0; i < expected.Count; i++)
        {
            var (want, got) = (expected[i], detections[i]);
            Assert.AreEqual(want.Label, got["label"]!.GetValue<string>());
            Assert.AreEqual(want.Start.TotalSeconds, got["start"]!.GetValue<double>(), 1e-9, "start");
            Assert.AreEqual(want.End.TotalSeconds, got["end"]!.GetValue<double>(), 1e-9, "end");
            Assert.AreEqual(want.Peak.TotalSeconds, got["peak"]!.GetValue<double>(), 1e-9, "peak");
            Assert.AreEqual(want.Score, got["score"]!.GetValue<float>(), ScoreTolerance, "score");
        }
        // And against the truth: each word found once, with its label, overlapping where it was placed; nothing else.
        foreach (var word in words)
            Assert.AreEqual(1, detections.Count(d => d["label"]!.GetValue<string>() == word.Label
                && d["start"]!.GetValue<double>() < word.End && word.Start < d["end"]!.GetValue<double>()), $"{word} in {string.Join("; ", detections.Select(d => d.ToJsonString()))}");
        Assert.AreEqual(words.Count, detections.Count, "no false alarm");

        var end = client.Messages[^1];
        Assert.AreEqual("end", end["type"]!.GetValue<string>());
        Assert.AreEqual(audio.Length / 16000.0, end["seconds"]!.GetValue<double>(), 1e-9);
        Assert.AreEqual(words.Count, end["detections"]!.GetValue<int>());
        // 'heard' once a second of audio at most (a message of 2 s gives one), each a second past the previous.
        var heard = client.Messages.Where(m => m["type"]!.GetValue<string>() == "heard").Select(m => m["seconds"]!.GetValue<double>()).ToArray();
        Assert.IsTrue(heard.Length >= audio.Length / 16000.0 / 2.05 - 1 && heard.Length <= audio.Length / 16000.0, $"{heard.Length} 'heard' messages");
        Assert.IsTrue(heard.Zip(heard.Skip(1)).All(p => p.Second >= Math.Floor(p.First) + 1), string.Join(", ", heard));
    }

    [TestMethod]
    public async Task Listen_ClientCloseInsteadOfEnd_StillGetsTheLastWord()
    {
        using var guard = new CancellationTokenSource(HangGuard);
        var (audio, words) = _recording;
        // Up to just after the second word: its detection can only end when the stream does.
        int cut = (int)((words[1].End + 0.05) * 16000);
        await using var client = await LiveClient.ConnectAsync(_server.Address, "", guard.Token);
        await client.Ready;
        await client.SendAsync(BundledWords.Pcm16(audio[..cut]), 3200);

        await client.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", guard.Token);
        var (status, _) = await client.Closed;

        Assert.AreEqual(WebSocketCloseStatus.NormalClosure, status);
        CollectionAssert.AreEqual(new[] { words[0].Label, words[1].Label }, client.Detections.Select(d => d["label"]!.GetValue<string>()).ToArray());
        Assert.AreEqual("end", client.Messages[^1]["type"]!.GetValue<string>());
    }

    [TestMethod]
    [DataRow("odd", WebSocketCloseStatus.InvalidPayloadData, "a binary message of 3 bytes: send whole 16-bit samples (an even number of bytes)")]
    [DataRow("too big", WebSocketCloseStatus.MessageTooBig, "messages of at most 65536 bytes (2.05 s of audio)")]
    [DataRow("text", WebSocketCloseStatus.InvalidMessageType, "unknown text message 'hello': send audio as binary messages, and 'end' to finish")]
    public async Task Listen_BadMessage_ClosesTheStreamWithAStatusAndReason_AndTheServerGoesOn(string message, WebSocketCloseStatus expected, string reason)
    {
        using var guard = new CancellationTokenSource(HangGuard);
        await using var client = await LiveClient.ConnectAsync(_server.Address, "", guard.Token);
        await client.Ready;
        await client.SendAsync(new byte[3200], 3200);

        switch (message)
        {
            case "odd": await client.SendAsync(new byte[3], 3); break;
            case "too big": await client.SendAsync(new byte[64 * 1024 + 2], 64 * 1024 + 2); break;
            case "text": await client.SendTextAsync("hello"); break;
        }
        var (status, description) = await client.Closed;

        Assert.AreEqual(expected, status);
        Assert.AreEqual(reason, description);
        await WaitUntil(() => Streams(_server).Open == 0, guard.Token);
        await using var next = await LiveClient.ConnectAsync(_server.Address, "", guard.Token);
        Assert.AreEqual("ready", (await next.Ready)["type"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Listen_WithoutAWebSocket_Gets400_SayingHowToConnect()
    {
        using var response = await _server.Client.GetAsync("/listen");

        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode);
        StringAssert.StartsWith((await response.Content.ReadFromJsonAsync<WebServerTests.ErrorJson>())!.Error, "/listen is a WebSocket endpoint");
    }

    [TestMethod]
    public async Task Listen_WithAnUnknownModel_IsRefusedWith404_NamingIt()
    {
        using var guard = new CancellationTokenSource(HangGuard);

        var (status, body) = await LiveClient.RefusedAsync(_server.Address, "?model=0123456789abcdef", guard.Token);

        Assert.AreEqual(404, status);
        StringAssert.Contains(body, "There is no model '0123456789abcdef'");
    }

    [TestMethod]
    public async Task Listen_AClientThatVanishes_EndsItsStream()
    {
        using var guard = new CancellationTokenSource(HangGuard);
        var client = await LiveClient.ConnectAsync(_server.Address, "", guard.Token);
        await client.Ready;
        await client.SendAsync(BundledWords.Pcm16(_recording.Audio[..32000]), 3200);
        await WaitUntil(() => client.Messages.Any(m => m["type"]!.GetValue<string>() == "heard"), guard.Token);

        await client.DisposeAsync(); // aborts the connection: no close frame

        await WaitUntil(() => Streams(_server).Open == 0, guard.Token);
        // What had arrived of the 2 s sent before the connection was cut.
        Assert.IsTrue(_server.Log.Entries.Any(e => e.Message.StartsWith("listen: stream on start-up closed (the client went away) after ", StringComparison.Ordinal)),
            string.Join("\n", _server.Log.Entries.TakeLast(5).Select(e => e.Message)));
    }

    [TestMethod]
    public async Task Listen_OverTheStreamLimit_Gets503_AndAnEndedStreamFreesItsPlace()
    {
        using var guard = new CancellationTokenSource(HangGuard);
        await using var server = await WebTestServer.StartAsync(new WebOptions { ModelPath = WebTestModel.TaughtModelPath, MaxStreams = 1 });
        await using var first = await LiveClient.ConnectAsync(server.Address, "", guard.Token);
        await first.Ready;

        var (status, body) = await LiveClient.RefusedAsync(server.Address, "", guard.Token);
        Assert.AreEqual(503, status);
        StringAssert.Contains(body, "1 live streams are open, the server's limit (--max-streams)");

        Assert.AreEqual(WebSocketCloseStatus.NormalClosure, (await first.EndAsync()).Status);
        await WaitUntil(() => Streams(server).Open == 0, guard.Token, server);
        await using var second = await LiveClient.ConnectAsync(server.Address, "", guard.Token);
        Assert.AreEqual("ready", (await second.Ready)["type"]!.GetValue<string>());
    }

    [TestMethod]
    public async Task Listen_AStreamThatSendsNothing_IsClosedAfterTheIdleTime()
    {
        using var guard = new CancellationTokenSource(HangGuard);
        await using var server = await WebTestServer.StartAsync(new WebOptions { ModelPath = WebTestModel.TaughtModelPath, StreamIdleTimeout = TimeSpan.FromSeconds(1) });
        await using var client = await LiveClient.ConnectAsync(server.Address, "", guard.Token);
        await client.Ready;

        var (status, reason) = await client.Closed;

        Assert.AreEqual(WebSocketCloseStatus.PolicyViolation, status);
        Assert.AreEqual("no message for 1 s", reason);
        await WaitUntil(() => Streams(server).Open == 0, guard.Token, server);
    }

    [TestMethod]
    public async Task Listen_ToATaughtModel_GoesOnWhenTheModelIsEvicted_ThenTheModelIsGone()
    {
        using var guard = new CancellationTokenSource(HangGuard);
        await using var server = await WebTestServer.StartAsync(new WebOptions { ModelPath = WebTestModel.ModelPath, MaxModels = 1 });
        string first = await WebTeachTests.TrainAsync(server, WebTestModel.TaughtWords, voices: 4);
        string firstZip = Path.Combine(Directory.CreateTempSubdirectory("kapre-web-").FullName, "first.zip");
        await File.WriteAllBytesAsync(firstZip, await server.Client.GetByteArrayAsync($"/models/{first}.zip"));
        var (audio, words) = _recording;
        byte[] pcm = BundledWords.Pcm16(audio);
        int half = 2 * (int)((words[2].End + 0.5) * 16000);
        await using var client = await LiveClient.ConnectAsync(server.Address, $"?model={first}", guard.Token);
        Assert.AreEqual(first, (await client.Ready)["model"]!.GetValue<string>());
        await client.SendAsync(pcm[..half], 3200);

        using var second = await WebTeachTests.TrainResponseAsync(server, ["yes", "no"], voices: 2);
        Assert.AreEqual(first, second.Headers.GetValues("X-Model-Evicted").Single(), "the only model kept is evicted");
        await client.SendAsync(pcm[half..], 3200);
        var (status, _) = await client.EndAsync();

        Assert.AreEqual(WebSocketCloseStatus.NormalClosure, status);
        var expected = InProcess(firstZip, AsReceived(pcm));
        CollectionAssert.AreEqual(expected.Select(d => d.Label).ToArray(), client.Detections.Select(d => d["label"]!.GetValue<string>()).ToArray(),
            "the whole stream was scored by the evicted model");
        using var gone = await server.Client.PostAsync($"/predict?model={first}", new ByteArrayContent(File.ReadAllBytes(BundledWords.File("yes", BundledWords.UnseenVoices[0]))));
        Assert.AreEqual(HttpStatusCode.NotFound, gone.StatusCode);
    }
}
