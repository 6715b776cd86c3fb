using System.Security.Cryptography;
using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Onnx;

namespace AudioClassification.Web;

/// <summary>
/// A model trained or uploaded here: its server, the zip it was loaded from (what <c>GET /models/ID.zip</c> sends) and,
/// once asked for, its ONNX export. Requests and streams hold a lease; evicted from the store, the model is disposed
/// when its last lease ends, so a stream that is using it is not cut off.
/// </summary>
public sealed class StoredModel
{
    private readonly Lazy<Task<byte[]>> _onnx;
    private int _holders = 1; // the store's own hold, released at eviction

    internal StoredModel(string id, ModelServer server, byte[] zip)
    {
        (Id, Server, Zip) = (id, server, zip);
        // Exported once, when first asked for, from a copy of the zip in its own MLContext: the export reads the network's
        // weights, which the served copy's engines are using at that moment.
        _onnx = new(() => Task.Run(() =>
        {
            var ml = new MLContext(seed: 1);
            using var input = new MemoryStream(zip, writable: false);
            var model = ml.Model.Load(input, out _);
            try
            {
                using var output = new MemoryStream();
                AudioOnnxExport.Export(model, output);
                return output.ToArray();
            }
            finally
            {
                (model as IDisposable)?.Dispose();
            }
        }), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The model's id: 16 hex digits from a cryptographic generator, so one client cannot guess another's.</summary>
    public string Id { get; }

    /// <summary>Serves the model's predictions and streams.</summary>
    public ModelServer Server { get; }

    /// <summary>The ML.NET model zip.</summary>
    public byte[] Zip { get; }

    /// <summary>The model as one ONNX file (<see cref="AudioOnnxExport"/>), exported on the first call.</summary>
    /// <exception cref="NotSupportedException">The model cannot be exported (the exporter says why).</exception>
    public Task<byte[]> OnnxAsync() => _onnx.Value;

    internal bool TryHold()
    {
        while (true)
        {
            int holders = Volatile.Read(ref _holders);
            if (holders == 0) return false;
            if (Interlocked.CompareExchange(ref _holders, holders + 1, holders) == holders) return true;
        }
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _holders) == 0) Server.Dispose();
    }
}

/// <summary>A hold on a stored model for one request or stream; disposing it lets an evicted model go.</summary>
public sealed class ModelLease(StoredModel model) : IDisposable
{
    private int _released;

    public StoredModel Model { get; } = model;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) Model.Release();
    }
}

/// <summary>
/// The models trained or uploaded on this server, in memory, at most <see cref="Capacity"/>: adding one more evicts the
/// oldest. Each is reached only by its id.
/// </summary>
public sealed class ModelStore(int capacity) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly LinkedList<StoredModel> _byAge = new();
    private readonly Dictionary<string, StoredModel> _byId = new(StringComparer.Ordinal);

    /// <summary>Most models kept.</summary>
    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be positive");

    /// <summary>Models kept now.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _byAge.Count;
        }
    }

    /// <summary>Whether <paramref name="id"/> has the form of an id (16 lower-case hex digits).</summary>
    public static bool IsId(string? id) => id is { Length: 16 } && id.All(char.IsAsciiHexDigitLower);

    /// <summary>Keeps a model under a new id; returns it and the id of the model evicted to make room, if any.</summary>
    public (StoredModel Model, string? Evicted) Add(ModelServer server, byte[] zip)
    {
        StoredModel? evicted = null, added;
        lock (_gate)
        {
            string id;
            do id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            while (_byId.ContainsKey(id));
            added = new StoredModel(id, server, zip);
            if (_byAge.Count >= Capacity)
            {
                evicted = _byAge.First!.Value;
                _byAge.RemoveFirst();
                _byId.Remove(evicted.Id);
            }
            _byAge.AddLast(added);
            _byId.Add(id, added);
        }
        evicted?.Release();
        return (added, evicted?.Id);
    }

    /// <summary>A lease on the model <paramref name="id"/>, or null when there is none (never trained here, or evicted).</summary>
    public ModelLease? Lease(string id)
    {
        lock (_gate)
        {
            return _byId.TryGetValue(id, out var model) && model.TryHold() ? new ModelLease(model) : null;
        }
    }

    /// <summary>Lets every model go (each is disposed once its last lease ends).</summary>
    public void Dispose()
    {
        List<StoredModel> all;
        lock (_gate)
        {
            all = [.. _byAge];
            _byAge.Clear();
            _byId.Clear();
        }
        foreach (var model in all) model.Release();
    }
}
