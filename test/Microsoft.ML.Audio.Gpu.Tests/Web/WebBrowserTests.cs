using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AudioClassification;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>The web sample's page in a real browser: headless Chromium, driven through the DevTools protocol.</summary>
[TestClass]
public sealed class WebBrowserTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>Ends the browser's waits if it hangs, so the test fails with a message instead of never ending; not a
    /// time limit on the page (which takes well under a second).</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(3);

    [TestMethod]
    public async Task Page_InChromium_ShowsTheLabelBarsAndSpectrogramOfAnUploadedFile()
    {
        await using var server = await WebTestServer.StartAsync();
        string file = WebTestModel.Files[0];
        var expected = await (await server.Client.PostAsync("/predict", new ByteArrayContent(File.ReadAllBytes(file))))
            .Content.ReadFromJsonAsync<WebServerTests.PredictionJson>();
        using var guard = new CancellationTokenSource(HangGuard);
        await using var browser = await HeadlessChromium.StartAsync(1100, 900, guard.Token);

        await browser.NavigateAsync(server.Address);
        await browser.SetFilesAsync("#file", file);
        var shown = (await browser.EvaluateAsync(SamplePage.WhenDone))!.AsObject();

        Assert.AreEqual("done", shown["state"]!.GetValue<string>(), shown.ToJsonString());
        Assert.AreEqual(expected!.Label, shown["label"]!.GetValue<string>());
        Assert.AreEqual(3, shown["bars"]!.GetValue<int>(), "one bar per class");
        Assert.AreEqual(Plots.SpectrogramWidth, shown["spectrogramWidth"]!.GetValue<int>(), "the spectrogram image is loaded");
        string screenshot = Path.Combine(TestContext.TestRunResultsDirectory ?? Path.GetTempPath(), "web-sample.png");
        await File.WriteAllBytesAsync(screenshot, await browser.ScreenshotAsync());
        TestContext.AddResultFile(screenshot);
    }

    [TestMethod]
    public async Task Page_InChromium_RecordsFromTheMicrophone_AsAWavTheServerClassifies()
    {
        await using var server = await WebTestServer.StartAsync();
        using var guard = new CancellationTokenSource(HangGuard);
        // Chromium's fake capture device (a tone with beeps) stands in for a microphone, allowed without asking.
        await using var browser = await HeadlessChromium.StartAsync(1100, 900, guard.Token,
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required");

        await browser.NavigateAsync(server.Address);
        // The page stops recording by itself after its longest recording (3 s), then sends the WAV it encoded.
        await browser.EvaluateAsync("document.getElementById('record').click()", userGesture: true);
        var shown = (await browser.EvaluateAsync(SamplePage.WhenDone))!.AsObject();

        Assert.AreEqual("done", shown["state"]!.GetValue<string>(), shown.ToJsonString());
        CollectionAssert.Contains(new[] { "high", "low", "rise" }, shown["label"]!.GetValue<string>());
        Assert.AreEqual(Plots.SpectrogramWidth, shown["spectrogramWidth"]!.GetValue<int>());
        var logged = server.Log.Entries.Single(e => e.Message.StartsWith("predict recording.wav (", StringComparison.Ordinal));
        // 16-bit mono at the model's rate, to which the page resamples the microphone: 3 s, plus the 44-byte header.
        long bytes = long.Parse(logged.Message["predict recording.wav (".Length..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.AreEqual(44 + 2 * 3 * 16000, bytes, "3 s of 16-bit samples at 16 kHz");
    }

    /// <summary>How far a detection's times may sit from where the recording put the word: the browser's capture adds a
    /// few milliseconds of latency before the first block reaches the page (measured 8 ms).</summary>
    private const double CaptureSlackSeconds = 0.25;

    /// <summary>A WAV file (16-bit, 16 kHz) for Chromium's fake microphone, played once from the start of each capture.</summary>
    private static string FakeMicrophoneFile(float[] audio)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("kapre-web-mic-").FullName, "microphone.wav");
        File.WriteAllBytes(path, AudioClassification.Web.WavFile.Pcm16(audio, BundledWords.SampleRate));
        return path;
    }

    private static Task<HeadlessChromium> StartWithMicrophoneAsync(string wav, CancellationToken guard)
        // %noloop: the file plays once, then the device gives silence (by default it loops).
        => HeadlessChromium.StartAsync(1100, 900, guard, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            $"--use-file-for-fake-audio-capture={wav}%noloop", "--autoplay-policy=no-user-gesture-required");

    /// <summary>Each detection (oldest first) has the label of the word at its place, and overlaps it.</summary>
    private static void AssertDetections(JsonObject shown, List<BundledWords.Word> words)
    {
        var detections = shown["detections"]!.AsArray().Select(d => d!.AsObject()).ToList();
        string all = shown.ToJsonString();
        CollectionAssert.AreEqual(words.Select(w => w.Label).ToArray(), detections.Select(d => d["label"]!.GetValue<string>()).ToArray(), all);
        for (int i = 0; i < words.Count; i++)
        {
            double start = detections[i]["start"]!.GetValue<double>(), end = detections[i]["end"]!.GetValue<double>();
            Assert.IsTrue(start < words[i].End + CaptureSlackSeconds && words[i].Start < end + CaptureSlackSeconds, $"{words[i]}: {all}");
        }
    }

    private async Task ScreenshotAsync(HeadlessChromium browser, string name)
    {
        string path = Path.Combine(TestContext.TestRunResultsDirectory ?? Path.GetTempPath(), name);
        await File.WriteAllBytesAsync(path, await browser.ScreenshotAsync());
        TestContext.AddResultFile(path);
    }

    [TestMethod]
    public async Task Page_LiveMode_InChromium_ShowsEachWordAFakeMicrophoneSays()
    {
        await using var server = await WebTestServer.StartAsync(new AudioClassification.Web.WebOptions { ModelPath = WebTestModel.TaughtModelPath });
        var (audio, words) = WebLiveTests.Recording();
        using var guard = new CancellationTokenSource(HangGuard);
        await using var browser = await StartWithMicrophoneAsync(FakeMicrophoneFile(audio), guard.Token);

        await browser.NavigateAsync(new Uri(server.Address, "/#live"));
        await browser.EvaluateAsync("document.getElementById('listen').click()", userGesture: true);
        double seconds = audio.Length / (double)BundledWords.SampleRate;
        var shown = (await browser.EvaluateAsync(SamplePage.WhenDetected(words.Count, seconds + 3)))!.AsObject();

        Assert.AreEqual("listening", shown["live"]!.GetValue<string>(), shown.ToJsonString());
        AssertDetections(shown, words);
        await ScreenshotAsync(browser, "web-live.png");
        // Stop: the page sends 'end', the server answers with its summary and closes.
        await browser.EvaluateAsync("document.getElementById('listen').click()", userGesture: true);
        var stopped = await browser.EvaluateAsync("""
            new Promise(resolve => { const t = setInterval(() => { if (document.body.dataset.live !== "ending") { clearInterval(t);
              resolve({ live: document.body.dataset.live, status: document.getElementById("live-status").textContent }); } }, 50); })
            """);
        Assert.AreEqual("off", stopped!["live"]!.GetValue<string>(), stopped.ToJsonString());
        StringAssert.StartsWith(stopped["status"]!.GetValue<string>(), "Stopped after ");
    }

    [TestMethod]
    public async Task Page_TeachMode_InChromium_LearnsTwoWordsFromRecordedClips_ThenHearsThemLive()
    {
        // The start-up model knows tones; the page teaches the server two of the bundled words, then listens for them.
        await using var server = await WebTestServer.StartAsync();
        string[] taught = ["yes", "up"];
        var (audio, words) = BundledWords.Recording(Enumerable.Range(0, 4).Select(i => (taught[i % 2], BundledWords.UnseenVoices[10 + i])), seed: 11);
        using var guard = new CancellationTokenSource(HangGuard);
        await using var browser = await StartWithMicrophoneAsync(FakeMicrophoneFile(audio), guard.Token);
        string background = Path.Combine(Directory.CreateTempSubdirectory("kapre-web-room-").FullName, "room.wav");
        await File.WriteAllBytesAsync(background, WebTestModel.BackgroundWav());

        await browser.NavigateAsync(new Uri(server.Address, "/#teach"));
        await browser.EvaluateAsync("""
            (() => { const names = document.querySelectorAll(".class-name");
              for (const [i, word] of ["yes", "up"].entries()) { names[i].value = word; names[i].dispatchEvent(new Event("input")); } })()
            """);
        for (int card = 0; card < 2; card++)
            await browser.SetFilesAsync($".class-card:nth-child({card + 1}) input[type=file]",
                [.. BundledWords.TeachingVoices.Take(5).Select(v => BundledWords.File(taught[card], v))]);
        await browser.SetFilesAsync(".class-card.background input[type=file]", background);
        // A recorded example goes in as well, from the microphone (2 s), and out again with its remove button.
        await browser.EvaluateAsync("document.querySelector('.class-card:nth-child(1) .record-example').click()", userGesture: true);
        var recorded = await browser.EvaluateAsync("""
            new Promise(resolve => { const t = setInterval(() => { const chips = document.querySelectorAll(".class-card:nth-child(1) .example");
              if (chips.length === 6) { clearInterval(t); resolve(chips[5].textContent); } }, 50); })
            """);
        Assert.AreEqual("\u25B6 6 (2.0 s)\u00D7", recorded!.GetValue<string>());
        await browser.EvaluateAsync("document.querySelectorAll('.class-card:nth-child(1) .example')[5].querySelector('button[title^=Remove]').click()");
        var ready = (await browser.EvaluateAsync("""
            ({ counts: [...document.querySelectorAll(".class-card .count")].map(c => c.textContent),
               status: document.getElementById("teach-status").textContent, disabled: document.getElementById("train").disabled })
            """))!.AsObject();
        Assert.AreEqual("Ready to train.", ready["status"]!.GetValue<string>(), ready.ToJsonString());
        Assert.IsFalse(ready["disabled"]!.GetValue<bool>());
        await ScreenshotAsync(browser, "web-teach.png");

        await browser.EvaluateAsync("document.getElementById('train').click()", userGesture: true);
        string model = (await browser.EvaluateAsync(SamplePage.WhenTrained))!.GetValue<string>();
        Assert.IsTrue(AudioClassification.Web.ModelStore.IsId(model), model + "\n" + server.Log.Errors());
        // The page listens with the new model at once; the fake microphone starts its file again for this capture.
        double seconds = audio.Length / (double)BundledWords.SampleRate;
        var shown = (await browser.EvaluateAsync(SamplePage.WhenDetected(words.Count, seconds + 3)))!.AsObject();

        AssertDetections(shown, words);
        var page = (await browser.EvaluateAsync("""
            ({ mode: document.body.dataset.mode, address: location.href, zip: document.getElementById("download-zip").getAttribute("href"),
               onnx: document.getElementById("download-onnx").getAttribute("href"), model: document.getElementById("model").textContent })
            """))!.AsObject();
        Assert.AreEqual("live", page["mode"]!.GetValue<string>());
        StringAssert.Contains(page["address"]!.GetValue<string>(), $"?model={model}");
        Assert.AreEqual($"Model {model} (taught here): 2 words (up, yes) and background.", page["model"]!.GetValue<string>());
        using var zip = await server.Client.GetAsync(page["zip"]!.GetValue<string>());
        Assert.AreEqual(System.Net.HttpStatusCode.OK, zip.StatusCode);
        Assert.AreEqual($"models/{model}.onnx", page["onnx"]!.GetValue<string>());
        await ScreenshotAsync(browser, "web-teach-live.png");
    }
}
