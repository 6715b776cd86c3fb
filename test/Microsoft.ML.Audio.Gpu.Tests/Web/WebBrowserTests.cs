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
        // 16-bit mono at the page's rate (44.1 or 48 kHz): about 3 s is 260-290 kB, plus the 44-byte header.
        long bytes = long.Parse(logged.Message["predict recording.wav (".Length..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsTrue(bytes > 100_000, $"the recording holds {bytes} bytes");
    }
}
