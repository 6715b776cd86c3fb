using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Microsoft.ML.Audio.Gpu.Tests.Web;

/// <summary>A client of the web sample's live endpoint (<c>/listen</c>): .NET's WebSocket, every message the server
/// sends kept, and the server's close status and reason.</summary>
internal sealed class LiveClient : IAsyncDisposable
{
    private readonly List<JsonObject> _messages = [];
    private readonly Task _receiving;
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Reason)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<JsonObject> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationToken _cancellation;

    private LiveClient(ClientWebSocket socket, CancellationToken cancellation)
    {
        (Socket, _cancellation) = (socket, cancellation);
        _receiving = Task.Run(ReceiveAsync, CancellationToken.None);
    }

    public ClientWebSocket Socket { get; }

    /// <summary>The server's messages so far, in order.</summary>
    public IReadOnlyList<JsonObject> Messages
    {
        get
        {
            lock (_messages) return [.. _messages];
        }
    }

    /// <summary>The detections so far.</summary>
    public IReadOnlyList<JsonObject> Detections => [.. Messages.Where(m => m["type"]!.GetValue<string>() == "detection")];

    /// <summary>The server's first message.</summary>
    public Task<JsonObject> Ready => _ready.Task.WaitAsync(_cancellation);

    /// <summary>Completes when the server's close frame arrives (or the connection ends without one: status null).</summary>
    public Task<(WebSocketCloseStatus? Status, string? Reason)> Closed => _closed.Task.WaitAsync(_cancellation);

    /// <param name="address">The server.</param>
    /// <param name="query">The query string after /listen, e.g. "?model=ID".</param>
    /// <param name="cancellation">Ends every wait (a guard against a hung server, not a time limit).</param>
    public static async Task<LiveClient> ConnectAsync(Uri address, string query, CancellationToken cancellation)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await socket.ConnectAsync(new Uri($"ws://{address.Authority}/listen{query}"), cancellation);
        return new LiveClient(socket, cancellation);
    }

    /// <summary>The status code of a refused connection (the upgrade's HTTP answer) and its JSON body's error.</summary>
    public static async Task<(int Status, string Body)> RefusedAsync(Uri address, string query, CancellationToken cancellation)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        var e = await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://{address.Authority}/listen{query}"), cancellation));
        // .NET keeps the refusal's status, not its body: the body is asked for again over HTTP with the same upgrade headers.
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(address, "/listen" + query));
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new System.Net.Http.Headers.ProductHeaderValue("websocket"));
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        using var response = await http.SendAsync(request, cancellation);
        Assert.AreEqual((int)socket.HttpStatusCode, (int)response.StatusCode, e.Message);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellation));
    }

    /// <summary>Sends <paramref name="pcm"/> in binary messages of the given sizes (cycled), as fast as the server takes them.</summary>
    public async Task SendAsync(byte[] pcm, params int[] sizes)
    {
        int at = 0;
        for (int k = 0; at < pcm.Length; k++)
        {
            int size = Math.Min(sizes[k % sizes.Length], pcm.Length - at);
            await Socket.SendAsync(pcm.AsMemory(at, size), WebSocketMessageType.Binary, endOfMessage: true, _cancellation);
            at += size;
        }
    }

    public Task SendTextAsync(string text)
        => Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, _cancellation);

    /// <summary>Sends 'end' and waits for the server to close: the last detections and the end message come first.</summary>
    public async Task<(WebSocketCloseStatus? Status, string? Reason)> EndAsync()
    {
        await SendTextAsync("end");
        return await Closed;
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var part = await Socket.ReceiveAsync(buffer, _cancellation);
                if (part.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult((part.CloseStatus, part.CloseStatusDescription));
                    // Answer the server's close, as RFC 6455 asks.
                    if (Socket.State == WebSocketState.CloseReceived)
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", _cancellation);
                    return;
                }
                message.Write(buffer, 0, part.Count);
                if (!part.EndOfMessage) continue;
                var json = JsonNode.Parse(message.GetBuffer().AsSpan(0, (int)message.Length))!.AsObject();
                message.SetLength(0);
                lock (_messages) _messages.Add(json);
                if (json["type"]?.GetValue<string>() == "ready") _ready.TrySetResult(json);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            _closed.TrySetResult((null, e.Message));
            _ready.TrySetException(new InvalidOperationException("The stream ended before the server's ready message: " + e.Message));
        }
    }

    public async ValueTask DisposeAsync()
    {
        Socket.Abort();
        try { await _receiving; } catch (Exception e) when (e is WebSocketException or OperationCanceledException) { }
        Socket.Dispose();
    }
}
