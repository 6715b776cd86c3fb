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
}
