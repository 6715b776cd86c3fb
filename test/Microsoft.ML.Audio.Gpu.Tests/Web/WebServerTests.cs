using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AudioClassification;
using AudioClassification.Consumption;
using AudioClassification.Web;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Audio.Gpu.Tests.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>The web sample's endpoints, against its real server on a loopback port, with a model the console sample trained.</summary>
[TestClass]
public sealed class WebServerTests
{
    /// <summary>The server and the console sample run the same decoder and network on the same bytes, one row at a time;
    /// JSON carries floats exactly (shortest round-trip form). Only the CPU kernels' thread split could differ.</summary>
    private const float ScoreTolerance = 1e-6f;

    /// <summary>Small enough to test the limit cheaply; every test file is far below it.</summary>
    private const long UploadLimit = 1024 * 1024;

    private static WebTestServer _server = null!;

    private static HttpClient Client => _server.Client;

    [ClassInitialize]
    public static async Task Start(TestContext _)
        => _server = await WebTestServer.StartAsync(new WebOptions { ModelPath = WebTestModel.ModelPath, MaxUploadBytes = UploadLimit });

    [ClassCleanup]
    public static async Task Stop() => await _server.DisposeAsync();

    public sealed record PredictionJson(string Label, Dictionary<string, float> Scores, double Milliseconds);

    public sealed record ErrorJson(string Error, string RequestId);

    private static async Task<PredictionJson> PredictAsync(HttpContent content)
    {
        using var response = await Client.PostAsync("/predict", content);
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync() + "\n" + _server.Log.Errors());
        return (await response.Content.ReadFromJsonAsync<PredictionJson>())!;
    }

    private static ByteArrayContent Raw(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
        return content;
    }

    private static MultipartFormDataContent Form(byte[] bytes, string fileName, string field = "file")
    {
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
        return new MultipartFormDataContent { { file, field, fileName } };
    }

    /// <summary>Asserts a JSON error answer with the status, a message holding <paramref name="fragment"/>, and the
    /// request id that the X-Request-Id header also carries.</summary>
    private static async Task<ErrorJson> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string fragment)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.AreEqual(status, response.StatusCode, body + "\n" + _server.Log.Errors());
        var error = JsonSerializer.Deserialize<ErrorJson>(body, JsonSerializerOptions.Web)!;
        StringAssert.Contains(error.Error, fragment);
        Assert.AreEqual(response.Headers.GetValues("X-Request-Id").Single(), error.RequestId);
        return error;
    }

    private static async Task AssertStillServingAsync()
    {
        var prediction = await PredictAsync(Raw(File.ReadAllBytes(WebTestModel.Files[0])));
        Assert.IsFalse(string.IsNullOrEmpty(prediction.Label));
    }

    [TestMethod]
    public async Task Health_IsReady_NamingTheModelAndItsClasses()
    {
        var health = await Client.GetFromJsonAsync<WebSample.Health>("/health");

        Assert.AreEqual("ready", health!.Status);
        Assert.AreEqual(Path.GetFileName(WebTestModel.ModelPath), health.Model);
        CollectionAssert.AreEqual(new[] { "high", "low", "rise" }, health.Classes.ToArray());
    }

    [TestMethod]
    public async Task Page_IsHtml_WithItsThreeModes_AndItsScripts()
    {
        using var response = await Client.GetAsync("/");
        string html = await response.Content.ReadAsStringAsync();

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.AreEqual("text/html", response.Content.Headers.ContentType!.MediaType);
        foreach (var part in new[] { "id=\"record\"", "id=\"file\"", "id=\"label\"", "id=\"scores\"", "id=\"spectrogram\"", "id=\"listen\"",
                     "id=\"detections\"", "id=\"classes\"", "id=\"train\"", "<script src=\"page.js\"></script>" })
            StringAssert.Contains(html, part);
        foreach (var (path, parts) in new[]
                 {
                     ("/page.js", new[] { "getUserMedia", "function encodeWav", "new WebSocket", "application/x-ndjson", "audioWorklet.addModule(\"capture.js\")" }),
                     ("/capture.js", new[] { "registerProcessor(\"capture\"" }),
                 })
        {
            using var script = await Client.GetAsync(path);
            Assert.AreEqual("text/javascript", script.Content.Headers.ContentType!.MediaType, path);
            string text = await script.Content.ReadAsStringAsync();
            foreach (var part in parts) StringAssert.Contains(text, part, path);
        }
    }

    [TestMethod]
    public async Task Predict_EqualsTheConsoleSamplesPredict_OnTheSameFiles()
    {
        AudioClassifierModel.ModelPath = WebTestModel.ModelPath;
        var classes = AudioClassifierModel.ClassNames;
        foreach (var file in WebTestModel.Files)
        {
            var expected = AudioClassifierModel.Predict(new ModelInput { Path = file });

            var actual = await PredictAsync(Raw(File.ReadAllBytes(file)));

            Assert.AreEqual(expected.PredictedLabel, actual.Label, file);
            CollectionAssert.AreEqual(classes, actual.Scores.Keys.ToArray(), "scores in the model's class order");
            for (int i = 0; i < classes.Length; i++)
                Assert.AreEqual(expected.Score[i], actual.Scores[classes[i]], ScoreTolerance, $"{file}: {classes[i]}");
            Assert.IsTrue(actual.Milliseconds > 0, "the server's time is reported");
        }
    }

    [TestMethod]
    public async Task Predict_ReadsTheMultipartFieldFile_AsItReadsARawBody()
    {
        foreach (var file in WebTestModel.Files)
        {
            byte[] bytes = File.ReadAllBytes(file);
            var raw = await PredictAsync(Raw(bytes));

            var form = await PredictAsync(Form(bytes, Path.GetFileName(file)));

            Assert.AreEqual(raw.Label, form.Label);
            CollectionAssert.AreEqual(raw.Scores.ToArray(), form.Scores.ToArray());
        }
    }

    [TestMethod]
    public async Task Spectrogram_IsAPngOfThePlotsSize_ForRawAndMultipartUploads()
    {
        byte[] bytes = File.ReadAllBytes(WebTestModel.Files[1]);
        foreach (HttpContent content in new HttpContent[] { Raw(bytes), Form(bytes, "clip.wav") })
        {
            using var response = await Client.PostAsync("/spectrogram", content);
            byte[] png = await response.Content.ReadAsByteArrayAsync();

            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, Encoding.UTF8.GetString(png));
            Assert.AreEqual("image/png", response.Content.Headers.ContentType!.MediaType);
            CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }, png[..8]);
            // IHDR, the first chunk: width and height, big-endian, at bytes 16 and 20.
            Assert.AreEqual(Plots.SpectrogramWidth, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
            Assert.AreEqual(Plots.SpectrogramHeight, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        }
    }

    private static WavBuilder Valid() => WavBuilder.For(new double[800, 1], 8000, SampleFormat.Pcm16);

    /// <summary>Uploads that are not audio, cut off, or have hostile headers (sizes meant to make a reader allocate
    /// or seek far, impossible formats), by name.</summary>
    private static byte[] BadUpload(string name)
    {
        WavBuilder wav = Valid();
        switch (name)
        {
            case "text": return Encoding.ASCII.GetBytes("hello, this is not audio\n");
            case "png": return [0x89, 0x50, 0x4E, 0x47, 13, 10, 26, 10, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52];
            case "mp3": return [(byte)'I', (byte)'D', (byte)'3', 4, 0, 0, 0, 0, 0, 0, 0xFF, 0xFB];
            case "header cut off": return Valid().ToBytes()[..30];
            case "data cut off": return Valid().ToBytes()[..200];
            case "2 GB data size": wav.DataSize = 0x7FFFFFF0; break;
            case "4 GB fmt size":
            {
                byte[] bytes = Valid().ToBytes();
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), 0xFFFFFFF0); // the fmt chunk's size
                return bytes;
            }
            case "0 channels": wav.Channels = 0; break;
            case "65535 channels": wav.Channels = 65535; wav.BlockAlign = 2; break;
            case "2 GHz rate": wav.SampleRate = 0x80000000; break;
            case "7 bits": wav.BitsPerSample = 7; wav.BlockAlign = 1; break;
            case "ADPCM": wav.FormatTag = WavBuilder.TagAdpcm; break;
            case "NaN samples":
                wav = WavBuilder.For(new double[800, 1], 8000, SampleFormat.Float32);
                BinaryPrimitives.WriteSingleLittleEndian(wav.Data.AsSpan(400), float.NaN);
                break;
            case "no samples": wav.Data = []; break;
            default: throw new ArgumentOutOfRangeException(nameof(name), name, null);
        }
        return wav.ToBytes();
    }

    [TestMethod]
    [DataRow("text", "not a supported audio file: it looks like text")]
    [DataRow("png", "not a supported audio file: it looks like a PNG image")]
    [DataRow("mp3", "no MPEG audio frame found")]
    [DataRow("header cut off", "the header is cut off")]
    [DataRow("data cut off", "bytes of audio data but only")]
    [DataRow("2 GB data size", "the header declares 2147483632 bytes of audio data but only 1600 are present")]
    [DataRow("4 GB fmt size", "'fmt ' chunk declares 4294967280 bytes")]
    [DataRow("0 channels", "the header declares 0 channels")]
    [DataRow("65535 channels", "65535 channels")]
    [DataRow("2 GHz rate", "supported rates are 100 to 1536000 Hz")]
    [DataRow("7 bits", "7 bits per sample is not supported")]
    [DataRow("ADPCM", "unsupported encoding Adpcm")]
    [DataRow("NaN samples", "NaN")]
    [DataRow("no samples", "it holds no audio samples")]
    public async Task BadUpload_Gets400WithTheDecodersMessage_AndTheServerKeepsServing(string upload, string reason)
    {
        byte[] bytes = BadUpload(upload);
        foreach (var endpoint in new[] { "/predict", "/spectrogram" })
        {
            using (var response = await Client.PostAsync(endpoint, Raw(bytes)))
                StringAssert.StartsWith((await AssertErrorAsync(response, HttpStatusCode.BadRequest, reason)).Error, "Cannot decode audio 'request body': ");
            using (var response = await Client.PostAsync(endpoint, Form(bytes, "upload.wav")))
                StringAssert.StartsWith((await AssertErrorAsync(response, HttpStatusCode.BadRequest, reason)).Error, "Cannot decode audio 'upload.wav': ");
        }

        await AssertStillServingAsync();
    }

    [TestMethod]
    public async Task EmptyUpload_Gets400_SayingWhatToSend()
    {
        foreach (var endpoint in new[] { "/predict", "/spectrogram" })
        {
            using (var response = await Client.PostAsync(endpoint, Raw([])))
                await AssertErrorAsync(response, HttpStatusCode.BadRequest, "The upload 'request body' is empty: send a WAV file");
            using (var response = await Client.PostAsync(endpoint, Form([], "empty.wav")))
                await AssertErrorAsync(response, HttpStatusCode.BadRequest, "The upload 'empty.wav' is empty");
        }
        await AssertStillServingAsync();
    }

    [TestMethod]
    public async Task FormWithoutTheFieldFile_Gets400_NamingTheFieldsItHas()
    {
        using (var response = await Client.PostAsync("/predict", Form(File.ReadAllBytes(WebTestModel.Files[0]), "a.wav", field: "audio")))
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "The form has no field 'file' (it has 'audio')");
        using (var response = await Client.PostAsync("/predict", new MultipartFormDataContent { { new StringContent("a.wav"), "file" } }))
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "The form has no file: send the audio file as the form field 'file'");
    }

    [TestMethod]
    public async Task MalformedMultipartBody_Gets400_AndTheServerKeepsServing()
    {
        var content = new ByteArrayContent(Encoding.ASCII.GetBytes("--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF"));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=xyz");

        using (var response = await Client.PostAsync("/predict", content))
            await AssertErrorAsync(response, HttpStatusCode.BadRequest, "The multipart form cannot be read: ");
        await AssertStillServingAsync();
    }

    [TestMethod]
    public async Task UploadOverTheSizeLimit_Gets413_AndTheServerKeepsServing()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = Raw(new byte[UploadLimit + 1]) };
        // The server answers from the headers (Content-Length), so the client must wait for that answer before sending.
        request.Headers.ExpectContinue = true;

        using (var response = await Client.SendAsync(request))
            await AssertErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "The upload is larger than the limit of 1 MiB (--max-upload-mb).");
        await AssertStillServingAsync();
    }

    [TestMethod]
    public async Task ConcurrentClients_GetTheSequentialAnswers()
    {
        const int Clients = 8, RequestsEach = 6;
        var files = WebTestModel.Files.Select(File.ReadAllBytes).ToArray();
        var sequential = new List<PredictionJson>();
        foreach (var bytes in files) sequential.Add(await PredictAsync(Raw(bytes)));

        var answers = await Task.WhenAll(Enumerable.Range(0, Clients).Select(async client =>
        {
            var mine = new List<(int File, PredictionJson Answer)>();
            for (int r = 0; r < RequestsEach; r++)
            {
                int file = (client + r) % files.Length;
                mine.Add((file, await PredictAsync(Raw(files[file]))));
            }
            return mine;
        }));

        foreach (var (file, answer) in answers.SelectMany(a => a))
        {
            Assert.AreEqual(sequential[file].Label, answer.Label);
            CollectionAssert.AreEqual(sequential[file].Scores.ToArray(), answer.Scores.ToArray(), $"file {file}");
        }
    }

    [TestMethod]
    public async Task Requests_AreLoggedWithTheRequestIdTheClientGets()
    {
        string good, bad;
        using (var response = await Client.PostAsync("/predict", Raw(File.ReadAllBytes(WebTestModel.Files[0]))))
            good = response.Headers.GetValues("X-Request-Id").Single();
        using (var response = await Client.PostAsync("/predict", Raw(BadUpload("text"))))
            bad = (await AssertErrorAsync(response, HttpStatusCode.BadRequest, "not a supported audio file")).RequestId;

        var entries = _server.Log.Entries;
        var predicted = entries.Single(e => Equals(e.Scope.GetValueOrDefault("RequestId"), good) && e.Category == "AudioClassification.Web");
        Assert.AreEqual(LogLevel.Information, predicted.Level);
        StringAssert.Contains(predicted.Message, "predict request body");
        var refused = entries.Single(e => Equals(e.Scope.GetValueOrDefault("RequestId"), bad) && e.Category == "AudioClassification.Web");
        Assert.AreEqual(LogLevel.Warning, refused.Level);
        StringAssert.Contains(refused.Message, "not a supported audio file");
    }
}
