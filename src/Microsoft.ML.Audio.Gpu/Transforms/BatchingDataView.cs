using System.Runtime.ExceptionServices;
using Microsoft.ML.Model.OnnxConverter;

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>One row's computed value: a slice of a batch buffer, or the error that row raises when read.</summary>
internal readonly record struct RowResult(float[]? Buffer, int Offset, int Length, Exception? Error)
{
    public static RowResult Failed(Exception e) => new(null, 0, 0, e);

    /// <summary>Writes the value into <paramref name="dst"/>, or throws the row's error.</summary>
    public void CopyTo(ref VBuffer<float> dst)
    {
        if (Error is not null) ExceptionDispatchInfo.Throw(Error);
        var editor = VBufferEditor.Create(ref dst, Length);
        Buffer.AsSpan(Offset, Length).CopyTo(editor.Values);
        dst = editor.Commit();
    }
}

/// <summary>
/// Computes one output column for a batch of rows: <c>inputs[0..count)</c> are the input column's values (rows whose
/// result already holds an error, raised upstream, are skipped); every other row's result must be set. Result arrays
/// may come from <paramref name="buffers"/>, which hands the previous batch's arrays back once its rows are read.
/// </summary>
internal delegate void BatchCompute<TIn>(TIn[] inputs, long[] positions, int count, RowResult[] results, BatchBuffers buffers);

/// <summary>
/// Result arrays of one cursor, reused from batch to batch. A batch's results are only read through getters that copy
/// them out, and a cursor computes its next batch only after the previous one's rows were handed out, so the arrays
/// rented for a batch can serve the next one. Reuse matters for large batches: a fresh 1.6 MB array per batch of 64
/// log-mel spectrograms cost 0.6 ms in page faults of new GC memory (a tenth of the batch).
/// </summary>
internal sealed class BatchBuffers
{
    private const int MaxSpare = 4;
    private readonly List<float[]> _spare = [];
    private readonly List<float[]> _rented = [];

    /// <summary>Buffers that are never reused (a single row per call, as the PredictionEngine path computes).</summary>
    public static BatchBuffers Fresh { get; } = new(reuse: false);

    private readonly bool _reuse;

    public BatchBuffers(bool reuse = true) => _reuse = reuse;

    private DeviceStaging? _staging;

    /// <summary>The cursor's page-locked transfer buffers for a CUDA device (null for <see cref="Fresh"/>, which is
    /// shared); created on first use.</summary>
    public DeviceStaging? Staging => _reuse ? (_staging ??= new DeviceStaging()) : null;

    /// <summary>Frees the transfer buffers.</summary>
    public void Dispose() => _staging?.Dispose();

    /// <summary>An array of at least <paramref name="length"/> values, not cleared: the caller writes what it uses.</summary>
    public float[] Rent(int length)
    {
        if (!_reuse) return GC.AllocateUninitializedArray<float>(length);
        int best = -1;
        for (int i = 0; i < _spare.Count; i++)
            if (_spare[i].Length >= length && (best < 0 || _spare[i].Length < _spare[best].Length)) best = i;
        float[] array;
        if (best >= 0)
        {
            array = _spare[best];
            _spare.RemoveAt(best);
        }
        else array = GC.AllocateUninitializedArray<float>(length);
        _rented.Add(array);
        return array;
    }

    /// <summary>Called before a new batch is computed: the previous batch's arrays become free for reuse.</summary>
    public void NextBatch()
    {
        if (!_reuse) return;
        _spare.AddRange(_rented);
        _rented.Clear();
        if (_spare.Count > MaxSpare) _spare.RemoveRange(0, _spare.Count - MaxSpare);
    }
}

/// <summary>A further output column computed from a row's <see cref="RowResult"/> (e.g. the predicted label from the
/// scores): <c>MakeGetter(current)</c> returns a <c>ValueGetter</c> of the column's type.</summary>
internal sealed record DerivedColumn(DataViewSchema.DetachedColumn Column, Func<Func<RowResult>, Delegate> MakeGetter);

/// <summary>
/// The lazy output of a transformer that computes one vector-of-Single column in batches: the input's columns plus
/// that column. Its cursors read a batch of rows ahead, keep the values of the active input columns, compute the new
/// column for the whole batch in one call (on the device for the GPU transforms, on all cores for LoadAudio), and then
/// hand the rows out one by one in their original order. A row whose value (or an upstream value) cannot be computed
/// keeps its exception, raised when that row's value is read; the other rows are unaffected.
/// </summary>
/// <summary>
/// The transformer behind a <see cref="BatchingDataView{TIn}"/>, for ML.NET's walks over a data pipe: saving it (the
/// transformer's own model) and converting it to ONNX (mlContext.Model.ConvertToOnnx).
/// </summary>
internal interface IDataPipeStep
{
    /// <summary>Writes the transformer's model.</summary>
    void Save(ModelSaveContext ctx);

    /// <summary>Whether the step has an ONNX form (before any input is known to the context).</summary>
    bool CanSaveOnnx(OnnxContext ctx);

    /// <summary>Writes the step's nodes, reading its input column's variable and defining its output column's.</summary>
    void SaveAsOnnx(OnnxContext ctx);
}

/// <summary>A step that ONNX conversion cannot take, with the reason ML.NET's converter shows.</summary>
internal sealed class NoOnnxStep(ICanSaveModel transformer) : IDataPipeStep
{
    public void Save(ModelSaveContext ctx) => transformer.Save(ctx);

    public bool CanSaveOnnx(OnnxContext ctx) => false;

    public void SaveAsOnnx(OnnxContext ctx) => throw new NotSupportedException($"{transformer.GetType().Name} has no ONNX form.");
}

internal sealed class BatchingDataView<TIn> : ITransformCanSaveOnnx
{
    private readonly IDataView _source;
    private readonly ColumnBindings _bindings;
    private readonly int _inputIndex;
    private readonly int[] _outputIndices;
    private readonly int _batchSize;
    private readonly BatchCompute<TIn> _compute;
    private readonly DerivedColumn[] _derived;

    private readonly IDataPipeStep _step;
    private readonly bool _readAhead;

    /// <param name="source">The input.</param>
    /// <param name="inputColumnName">The column the new one is computed from.</param>
    /// <param name="output">The new column.</param>
    /// <param name="batchSize">Rows computed together.</param>
    /// <param name="compute">Computes the new column for a batch.</param>
    /// <param name="step">The transformer, for saving and ONNX conversion.</param>
    /// <param name="readAhead">Read the next batch's rows on a worker thread while this batch is computed (for a compute
    /// that leaves the host's cores free: a GPU's; not for one that uses them all itself, as decoding or CPU kernels).</param>
    /// <param name="derived">Further columns computed from each row's result.</param>
    public BatchingDataView(IDataView source, string inputColumnName, DataViewSchema.DetachedColumn output, int batchSize, BatchCompute<TIn> compute,
        IDataPipeStep step, bool readAhead = false, params DerivedColumn[] derived)
    {
        _source = source;
        _readAhead = readAhead;
        _step = step;
        _bindings = new ColumnBindings(source.Schema, [output, .. derived.Select(d => d.Column)]);
        _inputIndex = source.Schema[inputColumnName].Index;
        _outputIndices = [_bindings.Schema[output.Name].Index, .. derived.Select(d => _bindings.Schema[d.Column.Name].Index)];
        _batchSize = batchSize;
        _compute = compute;
        _derived = derived;
    }

    public DataViewSchema Schema => _bindings.Schema;

    // A data transform to ML.NET's walks over a pipe (saving it, converting it to ONNX): the view over its source.
    IDataView IDataTransform.Source => _source;

    void ICanSaveModel.Save(ModelSaveContext ctx) => _step.Save(ctx);

    bool ICanSaveOnnx.CanSaveOnnx(OnnxContext ctx) => _step.CanSaveOnnx(ctx);

    void ISaveAsOnnx.SaveAsOnnx(OnnxContext ctx) => _step.SaveAsOnnx(ctx);

    public bool CanShuffle => _source.CanShuffle;

    public long? GetRowCount() => _source.GetRowCount();

    private (bool outputActive, List<DataViewSchema.Column> sourceColumns, bool[] active) Plan(IEnumerable<DataViewSchema.Column> columnsNeeded)
    {
        var active = new bool[Schema.Count];
        foreach (var c in columnsNeeded) active[c.Index] = true;
        bool outputActive = _outputIndices.Any(i => active[i]);
        var needed = new HashSet<int>();
        for (int i = 0; i < active.Length; i++)
        {
            if (!active[i]) continue;
            int src = _bindings.MapColumnIndex(out bool isSource, i);
            if (isSource) needed.Add(src);
        }
        if (outputActive) needed.Add(_inputIndex);
        return (outputActive, needed.OrderBy(i => i).Select(i => _source.Schema[i]).ToList(), active);
    }

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var (outputActive, sourceColumns, active) = Plan(columnsNeeded);
        return new Cursor(this, _source.GetRowCursor(sourceColumns, rand), active, outputActive);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var (outputActive, sourceColumns, active) = Plan(columnsNeeded);
        // Each parallel cursor batches its own rows.
        return _source.GetRowCursorSet(sourceColumns, n, rand).Select(c => (DataViewRowCursor)new Cursor(this, c, active, outputActive)).ToArray();
    }

    /// <summary>
    /// The rows of one batch as read from the input: the values of the active input columns, ids, positions and
    /// ML.NET batch numbers, and, once computed, the new column's results.
    /// </summary>
    private sealed class RowBatch
    {
        public readonly ColumnCache?[] Caches; // by source column index
        public readonly TypedCache<TIn>? InputCache;
        public readonly RowResult[] Results;
        public readonly DataViewRowId[] Ids;
        public readonly long[] Positions;
        public readonly long[] Batches;
        public int Count;

        public RowBatch(BatchingDataView<TIn> view, DataViewRowCursor input, bool[] active, bool outputActive, int capacity)
        {
            Caches = new ColumnCache?[view._source.Schema.Count];
            for (int i = 0; i < active.Length; i++)
            {
                if (!active[i]) continue;
                int src = view._bindings.MapColumnIndex(out bool isSource, i);
                if (isSource && Caches[src] is null)
                    Caches[src] = ColumnCache.Create(input, view._source.Schema[src], capacity);
            }
            if (outputActive)
            {
                // The computed column's input is cached like any other column (and shared if it is also read).
                Caches[view._inputIndex] ??= ColumnCache.Create(input, view._source.Schema[view._inputIndex], capacity);
                InputCache = Caches[view._inputIndex] as TypedCache<TIn>
                    ?? throw new InvalidOperationException($"Column '{view._source.Schema[view._inputIndex].Name}' does not hold {typeof(TIn).Name}.");
            }
            Results = new RowResult[capacity];
            Ids = new DataViewRowId[capacity];
            Positions = new long[capacity];
            Batches = new long[capacity];
        }
    }

    /// <summary>
    /// Reads a batch of rows, computes the new column for it, and hands the rows out one by one. With read-ahead, the
    /// rows of the next batch are read from the input on a worker thread while the current batch is computed: the
    /// decoding upstream (LoadAudio on all cores) then overlaps the device's work instead of leaving a GPU idle between
    /// batches. Two row batches take turns; the input cursor is only ever used by one thread at a time.
    /// </summary>
    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchingDataView<TIn> _view;
        private readonly DataViewRowCursor _input;
        private readonly bool[] _active;
        private readonly int _capacity;
        private readonly ValueGetter<DataViewRowId> _idGetter;
        private readonly BatchBuffers _buffers = new();
        private readonly RowBatch[] _pair;
        private readonly bool _readAhead;
        private RowBatch _current;
        private Task<RowBatch>? _reading;
        private long _readPosition = -1;
        private int _slot = -1;
        private long _position = -1;
        private bool _done, _inputEnded;

        public Cursor(BatchingDataView<TIn> view, DataViewRowCursor input, bool[] active, bool outputActive)
        {
            _view = view;
            _input = input;
            _active = active;
            _capacity = view._batchSize;
            _readAhead = view._readAhead;
            _pair = _readAhead
                ? [new RowBatch(view, input, active, outputActive, _capacity), new RowBatch(view, input, active, outputActive, _capacity)]
                : [new RowBatch(view, input, active, outputActive, _capacity)];
            _current = _pair[0];
            _idGetter = input.GetIdGetter();
        }

        public override DataViewSchema Schema => _view.Schema;

        public override long Position => _position;

        public override long Batch => _slot >= 0 && _slot < _current.Count ? _current.Batches[_slot] : 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => _active[column.Index];

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId value) =>
            {
                EnsureOnRow();
                value = _current.Ids[_slot];
            };

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!_active[column.Index])
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was made.");
            int src = _view._bindings.MapColumnIndex(out bool isSource, column.Index);
            if (isSource)
            {
                // One getter per row batch; the current batch's answers.
                var getters = _pair.Select(b => b.Caches[src]!.GetGetter<TValue>(() => { EnsureOnRow(); return _slot; })).ToArray();
                if (getters.Length == 1) return getters[0];
                return (ref TValue value) => getters[ReferenceEquals(_current, _pair[0]) ? 0 : 1](ref value);
            }

            if (src > 0)
            {
                var derived = _view._derived[src - 1].MakeGetter(() => { EnsureOnRow(); return _current.Results[_slot]; });
                return derived as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' is not of type {typeof(TValue).Name}.");
            }
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' is VBuffer<Single>, not {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
            {
                EnsureOnRow();
                _current.Results[_slot].CopyTo(ref dst);
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        private void EnsureOnRow()
        {
            if (_slot < 0 || _slot >= _current.Count)
                throw new InvalidOperationException("The cursor is not on a row: call MoveNext first.");
        }

        public override bool MoveNext()
        {
            if (_done) return false;
            if (_slot + 1 < _current.Count)
            {
                _slot++;
                _position++;
                return true;
            }
            NextBatch();
            if (_current.Count == 0)
            {
                _done = true;
                _slot = -1;
                return false;
            }
            _slot = 0;
            _position++;
            return true;
        }

        /// <summary>Makes the next batch current and computes the new column for it; with read-ahead, starts reading the
        /// batch after it first.</summary>
        private void NextBatch()
        {
            if (!_readAhead)
            {
                Read(_current);
            }
            else
            {
                // The batch read ahead (the first one: read now); its input errors surface here, in order.
                var next = _reading is { } reading ? reading.GetAwaiter().GetResult() : Read(_current);
                _reading = null;
                _current = next;
                if (next.Count == _capacity && !_inputEnded)
                {
                    var other = ReferenceEquals(next, _pair[0]) ? _pair[1] : _pair[0];
                    _reading = Task.Factory.StartNew(() => Read(other), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                }
            }
            Compute(_current);
        }

        /// <summary>Reads up to a batch of rows from the input into <paramref name="batch"/>.</summary>
        private RowBatch Read(RowBatch batch)
        {
            batch.Count = 0;
            if (_inputEnded) return batch;
            while (batch.Count < _capacity)
            {
                if (!_input.MoveNext())
                {
                    _inputEnded = true;
                    break;
                }
                int k = batch.Count++;
                batch.Positions[k] = ++_readPosition;
                batch.Batches[k] = _input.Batch;
                _idGetter(ref batch.Ids[k]);
                foreach (var cache in batch.Caches) cache?.Fill(k);
            }
            return batch;
        }

        /// <summary>Computes the new column for the rows of <paramref name="batch"/>.</summary>
        private void Compute(RowBatch batch)
        {
            if (batch.Count == 0 || batch.InputCache is not { } inputs) return;
            for (int k = 0; k < batch.Count; k++)
            {
                // Upstream failed on this row (e.g. a file that cannot be decoded): keep its exception for when this
                // row is read, and compute the others.
                batch.Results[k] = inputs.Error(k) is Exception e ? RowResult.Failed(e) : default;
            }
            _buffers.NextBatch(); // the previous batch's rows have all been handed out
            _view._compute(inputs.Values, batch.Positions, batch.Count, batch.Results, _buffers);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                // A read in flight still uses the input cursor: let it finish (its error no longer matters) first.
                try { _reading?.Wait(); } catch (AggregateException) { }
                _reading = null;
                _input.Dispose();
                _buffers.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>The values of one input column for the rows of the current batch.</summary>
internal abstract class ColumnCache
{
    public abstract void Fill(int slot);
    public abstract ValueGetter<TValue> GetGetter<TValue>(Func<int> slot);

    public static ColumnCache Create(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    {
        var raw = column.Type.RawType;
        Type cacheType = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? typeof(VectorCache<>).MakeGenericType(raw.GetGenericArguments()[0])
            : raw == typeof(ReadOnlyMemory<char>) ? typeof(TextCache) : typeof(ValueCache<>).MakeGenericType(raw);
        return (ColumnCache)Activator.CreateInstance(cacheType, cursor, column, capacity)!;
    }
}

internal abstract class TypedCache<T> : ColumnCache
{
    private readonly ValueGetter<T> _getter;
    private readonly string _name;
    private readonly Exception?[] _errors;

    /// <summary>The values of the batch's rows, by slot.</summary>
    public readonly T[] Values;

    /// <summary>The exception reading a slot's value raised, if any.</summary>
    public Exception? Error(int slot) => _errors[slot];

    protected TypedCache(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    {
        _getter = cursor.GetGetter<T>(column);
        _name = column.Name;
        Values = new T[capacity];
        _errors = new Exception?[capacity];
    }

    // Handed to the upstream getter for every row, so that it can reuse its arrays: a fresh default value made it
    // allocate each row's vector anew (64 KB per one-second clip, 4 MB of garbage per batch of 64).
    private T _scratch = default!;

    public override void Fill(int slot)
    {
        _errors[slot] = null;
        try
        {
            _getter(ref _scratch);
            Store(slot, _scratch);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _errors[slot] = e; // raised when this row's value is read
        }
    }

    protected abstract void Store(int slot, in T value);
    protected abstract void Read(int slot, ref T dst);

    public override ValueGetter<TValue> GetGetter<TValue>(Func<int> slot)
    {
        if (typeof(TValue) != typeof(T))
            throw new InvalidOperationException($"Column '{_name}' holds {typeof(T).Name}, not {typeof(TValue).Name}.");
        ValueGetter<T> getter = (ref T dst) =>
        {
            int s = slot();
            if (_errors[s] is Exception e) ExceptionDispatchInfo.Throw(e);
            Read(s, ref dst);
        };
        return (ValueGetter<TValue>)(Delegate)getter;
    }
}

internal sealed class ValueCache<T>(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    : TypedCache<T>(cursor, column, capacity)
{
    protected override void Store(int slot, in T value) => Values[slot] = value;
    protected override void Read(int slot, ref T dst) => dst = Values[slot];
}

internal sealed class TextCache(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    : TypedCache<ReadOnlyMemory<char>>(cursor, column, capacity)
{
    // A loader may reuse the memory behind a text value once it moves on: keep a copy.
    protected override void Store(int slot, in ReadOnlyMemory<char> value) => Values[slot] = value.ToArray();
    protected override void Read(int slot, ref ReadOnlyMemory<char> dst) => dst = Values[slot];
}

internal sealed class VectorCache<TItem>(DataViewRowCursor cursor, DataViewSchema.Column column, int capacity)
    : TypedCache<VBuffer<TItem>>(cursor, column, capacity)
{
    // Getters may reuse their buffers between rows: each slot keeps its own copy.
    protected override void Store(int slot, in VBuffer<TItem> value) => value.CopyTo(ref Values[slot]);
    protected override void Read(int slot, ref VBuffer<TItem> dst) => Values[slot].CopyTo(ref dst);
}
