using AudioClassification.Web;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>The web sample's command line: its options, and the messages that replace a start when something is missing.</summary>
[TestClass]
public sealed class WebCommandLineTests
{
    [TestMethod]
    public void Parse_WithNoArguments_ServesTheConsoleSamplesModelFromTheCurrentFolder()
    {
        var options = WebSample.Parse([]);

        Assert.AreEqual(Path.GetFullPath("AudioClassifier.zip"), options.ModelPath);
        Assert.IsNull(options.Urls, "no --urls: ASP.NET Core's own settings decide");
    }

    [TestMethod]
    public void Parse_ReadsEveryOption()
    {
        var options = WebSample.Parse(["--model", "m.zip", "--urls", "http://127.0.0.1:0", "--max-upload-mb", "3", "--timeout", "7",
            "--max-models", "5", "--max-streams", "2", "--max-train-mb", "40"]);

        Assert.AreEqual(Path.GetFullPath("m.zip"), options.ModelPath);
        Assert.AreEqual("http://127.0.0.1:0", options.Urls);
        Assert.AreEqual(3L * 1024 * 1024, options.MaxUploadBytes);
        Assert.AreEqual(TimeSpan.FromSeconds(7), options.RequestTimeout);
        Assert.AreEqual(5, options.MaxModels);
        Assert.AreEqual(2, options.MaxStreams);
        Assert.AreEqual(40L * 1024 * 1024, options.MaxTrainingUploadBytes);
    }

    [TestMethod]
    [DataRow(new[] { "--modle", "m.zip" }, "Unknown option '--modle'; the options are --model, --urls, --max-upload-mb, --timeout, --max-models, --max-streams, --max-train-mb.")]
    [DataRow(new[] { "-m", "m.zip" }, "Unknown option '-m'")]
    [DataRow(new[] { "m.zip" }, "Unexpected argument 'm.zip': the sample takes options only.")]
    [DataRow(new[] { "--model" }, "--model needs a value.")]
    [DataRow(new[] { "--model", "a.zip", "--model", "b.zip" }, "--model is given twice.")]
    [DataRow(new[] { "--timeout", "0" }, "--timeout must be a whole number from 1 to 1000, got '0'.")]
    [DataRow(new[] { "--max-upload-mb", "ten" }, "--max-upload-mb must be a whole number from 1 to 1000, got 'ten'.")]
    [DataRow(new[] { "--max-models", "0" }, "--max-models must be a whole number from 1 to 1000, got '0'.")]
    public void Parse_RefusesAMistake_SayingWhatIsWrong(string[] args, string message)
    {
        var e = Assert.Throws<WebSample.UsageException>(() => WebSample.Parse(args));

        StringAssert.StartsWith(e.Message, message);
    }

    [TestMethod]
    public async Task Run_WithAnUnknownOption_PrintsTheUsage_AndExitsWith2()
    {
        var output = new StringWriter();

        int code = await WebSample.RunAsync(["--port", "80"], output);

        Assert.AreEqual(2, code);
        StringAssert.Contains(output.ToString(), "Unknown option '--port'");
        StringAssert.Contains(output.ToString(), WebSample.Usage);
    }

    [TestMethod]
    public async Task Run_WithNoModel_SaysHowToMakeOne_AndExitsWith1()
    {
        var output = new StringWriter();
        string missing = Path.Combine(Path.GetTempPath(), "no-such-folder-" + Guid.NewGuid().ToString("N"), "AudioClassifier.zip");

        int code = await WebSample.RunAsync(["--model", missing], output);

        Assert.AreEqual(1, code);
        StringAssert.StartsWith(output.ToString(), $"No model at {missing}.");
        StringAssert.Contains(output.ToString(), "dotnet run --project samples/AudioClassification -c Release");
    }

    [TestMethod]
    public async Task Run_WithAFileThatIsNotAModel_SaysSo_AndExitsWith1()
    {
        string notAModel = Path.GetTempFileName();
        try
        {
            File.WriteAllText(notAModel, "not a zip");
            var output = new StringWriter();

            int code = await WebSample.RunAsync(["--model", notAModel, "--urls", "http://127.0.0.1:0"], output);

            Assert.AreEqual(1, code, output.ToString());
            StringAssert.StartsWith(output.ToString(), $"error: cannot serve the model {notAModel}: ");
        }
        finally
        {
            File.Delete(notAModel);
        }
    }
}
