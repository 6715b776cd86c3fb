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
        var shown = (await browser.EvaluateAsync(WhenDone))!.AsObject();

        Assert.AreEqual("done", shown["state"]!.GetValue<string>(), shown.ToJsonString());
        Assert.AreEqual(expected!.Label, shown["label"]!.GetValue<string>());
        Assert.AreEqual(3, shown["bars"]!.GetValue<int>(), "one bar per class");
        Assert.AreEqual(Plots.SpectrogramWidth, shown["spectrogramWidth"]!.GetValue<int>(), "the spectrogram image is loaded");
        string screenshot = Path.Combine(TestContext.TestRunResultsDirectory ?? Path.GetTempPath(), "web-sample.png");
        await File.WriteAllBytesAsync(screenshot, await browser.ScreenshotAsync());
        TestContext.AddResultFile(screenshot);
    }

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
}
