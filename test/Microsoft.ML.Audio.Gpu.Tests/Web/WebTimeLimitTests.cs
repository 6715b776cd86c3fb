using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using AudioClassification.Web;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>The per-request time limit, on a server whose limit is short.</summary>
[TestClass]
public sealed class WebTimeLimitTests
{
    [TestMethod]
    public async Task UploadSlowerThanTheTimeLimit_Gets408_AndTheServerKeepsServing()
    {
        await using var server = await WebTestServer.StartAsync(new WebOptions { ModelPath = WebTestModel.ModelPath, RequestTimeout = TimeSpan.FromSeconds(1) });
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.Address.Port);
        var stream = client.GetStream();
        // A body promised but never sent: the server must give up at its limit instead of waiting on the client.
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\nRIFF"));

        string answer = await ReadHeadAsync(stream);

        StringAssert.StartsWith(answer, "HTTP/1.1 408 ");
        var health = await server.Client.GetFromJsonAsync<WebSample.Health>("/health");
        Assert.AreEqual("ready", health!.Status);
    }

    /// <summary>Reads the status line and headers of an HTTP/1.1 answer.</summary>
    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int read = await stream.ReadAsync(buffer);
            if (read == 0) break;
            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        return head.ToString();
    }
}
