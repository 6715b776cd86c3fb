using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Audio.Gpu.Training;

namespace AudioClassification.Web;

/// <summary>The live streams open now, at most <see cref="WebOptions.MaxStreams"/>.</summary>
public sealed class LiveStreams(WebOptions options)
{
    private int _open;

    /// <summary>Streams open now.</summary>
    public int Open => Volatile.Read(ref _open);

    internal bool TryEnter()
    {
        if (Interlocked.Increment(ref _open) <= options.MaxStreams) return true;
        Interlocked.Decrement(ref _open);
        return false;
    }

    internal void Exit() => Interlocked.Decrement(ref _open);
}

/// <summary>The first message of a live stream: what the server listens for and how to send it.</summary>
/// <param name="Type">"ready".</param>
/// <param name="Model">The model's id, or "start-up".</param>
/// <param name="Classes">The classes that can be detected (background classes are never reported).</param>
/// <param name="SampleRate">Samples per second to send (16-bit little-endian mono PCM).</param>
/// <param name="WindowSeconds">The audio each decision hears (the model's clip length).</param>
/// <param name="HopSeconds">Time between decisions.</param>
/// <param name="MaxMessageBytes">Largest binary message.</param>
public sealed record ReadyMessage(string Type, string Model, IReadOnlyList<string> Classes, int SampleRate, double WindowSeconds, double HopSeconds, int MaxMessageBytes);

/// <summary>A word heard, sent when it ends (<see cref="AudioDetection"/>); times in seconds from the stream's start.</summary>
public sealed record DetectionMessage(string Type, string Label, double Start, double End, double Peak, float Score);

/// <summary>Sent after a message that completes a second of audio (at most one per message): how much the server has
/// heard, and the time it spent scoring it.</summary>
public sealed record HeardMessage(string Type, double Seconds, double ComputeSeconds);

/// <summary>The last message before the server closes a stream that ended normally.</summary>
public sealed record EndMessage(string Type, double Seconds, double ComputeSeconds, long ScoredWindows, long SkippedWindows, int Detections);

/// <summary>
/// <c>GET /listen[?model=ID]</c>: a WebSocket on which the client streams 16-bit little-endian mono PCM at the model's
/// rate (binary messages of any size up to <see cref="WebOptions.MaxStreamMessageBytes"/>) and the server answers with
/// JSON text messages: <see cref="ReadyMessage"/> first, a <see cref="DetectionMessage"/> for each word as soon as it
/// ends, a <see cref="HeardMessage"/> about once a second of audio, and after the client's text message <c>end</c> (or its close),
/// the last detections and an <see cref="EndMessage"/>. One <see cref="StreamingAudioClassifier"/> per connection,
/// disposed with it.
/// </summary>
/// <remarks>
/// Refused before the upgrade, with a JSON error: a request that is not a WebSocket upgrade (400), an unknown model
/// (404), a model that cannot classify a stream (400), more than <see cref="WebOptions.MaxStreams"/> streams (503). Once
/// open, bad input closes the stream with a status and a reason (RFC 6455): a message over the size limit (1009), a
/// binary message that is not whole 16-bit samples (1007), an unknown text message (1003), no message for
/// <see cref="WebOptions.StreamIdleTimeout"/> (1008); the server stopping closes it with 1001. A client that goes away
/// ends its stream at once (the request's cancellation).
/// </remarks>
internal static class LiveEndpoint
{
    /// <summary>The text message that ends a stream.</summary>
    public const string End = "end";

    public static void Map(WebApplication app, WebOptions options, ILogger log)
        => app.Map("/listen", (HttpContext context, ModelServer startup, ModelStore store, LiveStreams streams, IHostApplicationLifetime lifetime)
            => ListenAsync(context, options, log, startup, store, streams, lifetime.ApplicationStopping));

    private static async Task<IResult> ListenAsync(HttpContext context, WebOptions options, ILogger log, ModelServer startup, ModelStore store,
        LiveStreams streams, CancellationToken stopping)
    {
        if (!context.WebSockets.IsWebSocketRequest)
            return WebSample.Error(StatusCodes.Status400BadRequest,
                "/listen is a WebSocket endpoint: connect with a WebSocket (ws://.../listen), send 16-bit little-endian mono PCM " +
                "at 16 kHz as binary messages and the text 'end' to finish.");
        var (server, lease, missing) = WebSample.ResolveModel(context, startup, store, options);
        if (missing is not null) return missing;
        using (lease)
        {
            if (!streams.TryEnter())
            {
                log.LogWarning("listen: refused, {Max} streams are open", options.MaxStreams);
                context.Response.Headers.RetryAfter = "10";
                return WebSample.Error(StatusCodes.Status503ServiceUnavailable,
                    $"{options.MaxStreams} live streams are open, the server's limit (--max-streams); try again later.");
            }
            try
            {
                StreamingAudioClassifier classifier;
                try
                {
                    classifier = server!.OpenStream();
                }
                catch (ArgumentException e)
                {
                    log.LogWarning("listen: the model cannot stream: {Message}", e.Message);
                    return WebSample.Error(StatusCodes.Status400BadRequest, $"The model cannot classify a live stream: {e.Message}");
                }
                using (classifier)
                {
                    using var socket = await context.WebSockets.AcceptWebSocketAsync();
                    string model = lease?.Model.Id ?? "start-up";
                    await new LiveStream(socket, classifier, options, log, model, server.ClipSeconds ?? 0).RunAsync(context.RequestAborted, stopping);
                }
                return Results.Empty;
            }
            finally
            {
                streams.Exit();
            }
        }
    }

    /// <summary>One connection: its socket, its classifier and its counts.</summary>
    private sealed class LiveStream(WebSocket socket, StreamingAudioClassifier classifier, WebOptions options, ILogger log, string model, double windowSeconds)
    {
        private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
        private readonly byte[] _buffer = new byte[options.MaxStreamMessageBytes];
        private float[] _samples = [];
        private int _detections;
        private double _nextHeard = 1;

        public async Task RunAsync(CancellationToken aborted, CancellationToken stopping)
        {
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(aborted, stopping);
            var token = cancel.Token;
            string outcome;
            var watch = Stopwatch.StartNew();
            log.LogInformation("listen: stream opened on {Model} ({Classes})", model, string.Join(", ", classifier.ReportedClasses));
            try
            {
                await SendAsync(new ReadyMessage("ready", model, classifier.ReportedClasses, classifier.SampleRate,
                    windowSeconds, new StreamingClassifierOptions().HopSeconds, options.MaxStreamMessageBytes), token);
                outcome = await ReceiveAllAsync(token);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested && !aborted.IsCancellationRequested)
            {
                outcome = "the server is stopping";
                await CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "the server is stopping");
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException || aborted.IsCancellationRequested)
            {
                outcome = "the client went away";
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                log.LogError(e, "listen: stream on {Model} failed", model);
                outcome = "failed";
                await CloseAsync(WebSocketCloseStatus.InternalServerError, "the server failed; its log has the details");
            }
            log.LogInformation("listen: stream on {Model} closed ({Outcome}) after {Seconds:F1} s of audio in {Wall:F1} s: {Detections} detections, " +
                               "{Scored} of {Windows} windows scored, {Compute:F2} s computing",
                model, outcome, classifier.Received.TotalSeconds, watch.Elapsed.TotalSeconds, _detections, classifier.ScoredWindows,
                classifier.ScoredWindows + classifier.SkippedWindows, classifier.ComputeTime.TotalSeconds);
        }

        /// <summary>Reads messages until the stream ends; returns how it ended.</summary>
        private async Task<string> ReceiveAllAsync(CancellationToken token)
        {
            while (true)
            {
                int count = 0;
                ValueWebSocketReceiveResult part;
                do
                {
                    if (count == _buffer.Length)
                    {
                        string reason = string.Create(CultureInfo.InvariantCulture, $"messages of at most {_buffer.Length} bytes ({_buffer.Length / 2.0 / classifier.SampleRate:0.##} s of audio)");
                        await CloseAsync(WebSocketCloseStatus.MessageTooBig, reason);
                        return "message too big";
                    }
                    var receive = socket.ReceiveAsync(_buffer.AsMemory(count), token).AsTask();
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(token);
                    var timer = Task.Delay(options.StreamIdleTimeout, idle.Token);
                    var first = await Task.WhenAny(receive, timer);
                    idle.Cancel();
                    token.ThrowIfCancellationRequested();
                    if (first != receive)
                    {
                        // Not by cancelling the receive: that would abort the socket without telling the client why.
                        await CloseAsync(WebSocketCloseStatus.PolicyViolation,
                            string.Create(CultureInfo.InvariantCulture, $"no message for {options.StreamIdleTimeout.TotalSeconds:0} s"));
                        return "idle";
                    }
                    part = await receive;
                    count += part.Count;
                }
                while (!part.EndOfMessage && part.MessageType != WebSocketMessageType.Close);

                switch (part.MessageType)
                {
                    case WebSocketMessageType.Close:
                        // The client closed: what the audio still holds is sent if it still reads, then the close is answered.
                        await FlushAsync(token);
                        await CloseAsync(WebSocketCloseStatus.NormalClosure, "closed by the client");
                        return "closed by the client";
                    case WebSocketMessageType.Text:
                        string text = Encoding.UTF8.GetString(_buffer, 0, count);
                        if (text.Trim() == End)
                        {
                            await FlushAsync(token);
                            await CloseAsync(WebSocketCloseStatus.NormalClosure, "end of stream");
                            return "ended by the client";
                        }
                        await CloseAsync(WebSocketCloseStatus.InvalidMessageType,
                            $"unknown text message '{(text.Length > 20 ? text[..20] + "..." : text)}': send audio as binary messages, and 'end' to finish");
                        return "unknown text message";
                    default:
                        if (count % 2 != 0)
                        {
                            await CloseAsync(WebSocketCloseStatus.InvalidPayloadData,
                                $"a binary message of {count} bytes: send whole 16-bit samples (an even number of bytes)");
                            return "odd message";
                        }
                        await PushAsync(count / 2, token);
                        break;
                }
            }
        }

        private async Task PushAsync(int samples, CancellationToken token)
        {
            if (_samples.Length < samples) _samples = new float[Math.Max(samples, 4096)];
            for (int i = 0; i < samples; i++) _samples[i] = BinaryPrimitives.ReadInt16LittleEndian(_buffer.AsSpan(2 * i)) / 32768f;
            // The classifier scores the windows this audio completes on this thread: a few milliseconds each, and the
            // next message waits in the socket meanwhile, which paces a client that sends faster than the server scores.
            foreach (var d in classifier.Push(_samples.AsSpan(0, samples))) await SendAsync(Message(d), token);
            if (classifier.Received.TotalSeconds >= _nextHeard)
            {
                _nextHeard = Math.Floor(classifier.Received.TotalSeconds) + 1;
                await SendAsync(new HeardMessage("heard", classifier.Received.TotalSeconds, classifier.ComputeTime.TotalSeconds), token);
            }
        }

        private async Task FlushAsync(CancellationToken token)
        {
            foreach (var d in classifier.Flush()) await SendAsync(Message(d), token);
            await SendAsync(new EndMessage("end", classifier.Received.TotalSeconds, classifier.ComputeTime.TotalSeconds,
                classifier.ScoredWindows, classifier.SkippedWindows, _detections), token);
        }

        private DetectionMessage Message(AudioDetection d)
        {
            _detections++;
            return new DetectionMessage("detection", d.Label, d.Start.TotalSeconds, d.End.TotalSeconds, d.Peak.TotalSeconds, d.Score);
        }

        private Task SendAsync<T>(T message, CancellationToken token)
            => socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message, Json), WebSocketMessageType.Text, endOfMessage: true, token);

        /// <summary>
        /// Closes with a status and reason when the socket can still say so, and when the server is the first to close,
        /// waits (up to 5 s) for the client's answering close, as RFC 6455 asks; a client already gone is let go.
        /// </summary>
        private async Task CloseAsync(WebSocketCloseStatus status, string reason)
        {
            if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived)) return;
            try
            {
                // The reason travels in the close frame, at most 123 bytes.
                if (Encoding.UTF8.GetByteCount(reason) > 123) reason = reason[..100] + "...";
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseOutputAsync(status, reason, wait.Token);
                var drain = new byte[1024];
                while (socket.State == WebSocketState.CloseSent && (await socket.ReceiveAsync(drain.AsMemory(), wait.Token)).MessageType != WebSocketMessageType.Close) { }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException) { }
        }
    }
}
