using System.Buffers;
using Microsoft.ML.Model.OnnxConverter;

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Base of the transformers that run a TorchSharp layer from <see cref="Layers"/> over one vector column: device
/// choice, batched read-ahead cursors, the single-row mapper that PredictionEngine uses, schema checks and the common
/// part of persistence. The maths is the layer's; this class only moves data.
/// </summary>
/// <remarks>
/// <see cref="Transform"/> returns a view whose cursors read <see cref="BatchSize"/> rows ahead, copy their input
/// vectors into one tensor (one bulk copy per batch), run the layer once on the device, and copy the result back in one
/// piece; rows are then handed out in their original order. Rows of different lengths are processed in groups of equal
/// length. A row that cannot be processed gets an exception naming the column and the row, raised when that row's
/// value is read; other rows are unaffected.
/// </remarks>
public abstract class GpuAudioTransformerBase : ITransformer, IDisposable, IRowMapperSource
{
    private protected readonly IHost Host;
    private readonly Lazy<nn.Module<Tensor, Tensor>> _module;
    private bool _disposed;
    private volatile DeviceFaultException? _deviceFault;

    /// <summary>Name of the column this transformer writes.</summary>
    public string OutputColumnName { get; }

    /// <summary>Name of the column this transformer reads.</summary>
    public string InputColumnName { get; }

    /// <summary>Rows read ahead and processed together on the device: the options' BatchSize, or when that was left
    /// unset, the device's default (64 on the CPU, 256 on a GPU).</summary>
    public int BatchSize { get; }

    /// <summary>The options' BatchSize (null: the device's default, chosen again where the model is loaded).</summary>
    private protected int? RequestedBatchSize { get; }

    /// <summary>The device the layer runs on, chosen from <see cref="MLContext.GpuDeviceId"/> and <see cref="MLContext.FallbackToCpu"/>.</summary>
    public Device Device { get; }

    /// <summary>Read ahead while computing (see <see cref="TorchDevices.ReadsAhead"/>): null for the device's choice.</summary>
    internal bool? ReadAhead { get; set; }

    private protected GpuAudioTransformerBase(IHost host, string outputColumnName, string inputColumnName, int? batchSize)
    {
        Host = host;
        Host.CheckNonEmpty(outputColumnName, nameof(outputColumnName));
        Host.CheckNonEmpty(inputColumnName, nameof(inputColumnName));
        Host.CheckUserArg(batchSize is null or > 0, nameof(batchSize), $"BatchSize must be positive, got: {batchSize}");
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Device = TorchDevices.Resolve(host, ComponentName);
        RequestedBatchSize = batchSize;
        BatchSize = batchSize ?? GpuTransformDefaults.BatchSizeFor(Device);
        _module = new Lazy<nn.Module<Tensor, Tensor>>(() =>
        {
            var m = CreateModule();
            m.eval();
            return Device.type == DeviceType.CPU ? m : m.to(Device);
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    // *** Binary format (common part, written first by every subclass) ***
    // string: output column name
    // string: input column name
    // int: batch size; 0 = unset (from 0x00010002; earlier models always hold a positive size)
    private protected GpuAudioTransformerBase(IHost host, ModelLoadContext ctx)
        : this(host, ctx.LoadNonEmptyString(), ctx.LoadNonEmptyString(), ReadBatchSize(host, ctx))
    {
    }

    /// <summary>Loads the common part after checking the model's version header; <paramref name="name"/> registers the host.</summary>
    private protected GpuAudioTransformerBase(IHostEnvironment env, ModelLoadContext ctx, VersionInfo version, string name)
        : this(CheckHeader(env, ctx, version).Register(name), ctx)
    {
    }

    private static IHostEnvironment CheckHeader(IHostEnvironment env, ModelLoadContext ctx, VersionInfo version)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel(version);
        return env;
    }

    /// <summary>The version header every audio transformer writes: the common part's format is what changes.</summary>
    private protected static VersionInfo CurrentVersion(string modelSignature, string loaderSignature, Type transformer) => new(
        modelSignature: modelSignature,
        // verWrittenCur: 0x00010001, // Initial
        verWrittenCur: 0x00010002, // Batch size 0: unset, the device's default where the model is loaded
        verReadableCur: 0x00010002,
        verWeCanReadBack: 0x00010001,
        loaderSignature: loaderSignature,
        loaderAssemblyName: transformer.Assembly.FullName);

    private static int? ReadBatchSize(IHost host, ModelLoadContext ctx)
    {
        int batchSize = ctx.Reader.ReadInt32();
        host.CheckDecode(batchSize >= 0);
        return batchSize == 0 ? null : batchSize;
    }

    private protected void SaveCommon(ModelSaveContext ctx)
    {
        ctx.SaveNonEmptyString(OutputColumnName);
        ctx.SaveNonEmptyString(InputColumnName);
        ctx.Writer.Write(RequestedBatchSize ?? 0);
    }

    /// <summary>Name used in log messages and errors.</summary>
    private protected abstract string ComponentName { get; }

    /// <summary>True when the input is a spectrum <c>[channels, bins, frames]</c>, false for audio <c>[channels, samples]</c>.</summary>
    private protected abstract bool InputIsSpectrum { get; }

    /// <summary>Bin count implied by the options, for a variable-size spectrum input without a BinCount annotation.</summary>
    private protected virtual int? BinsFromOptions => null;

    /// <summary>Checks the input column against the options and describes the output.</summary>
    private protected abstract OutputLayout GetOutputLayout(SignalColumn input);

    /// <summary>Creates the TorchSharp module (on the CPU, float32); the base moves it to <see cref="Device"/>.</summary>
    private protected abstract nn.Module<Tensor, Tensor> CreateModule();

    /// <summary>The version header this transformer writes and reads.</summary>
    private protected abstract VersionInfo Version { get; }

    /// <summary>Writes the transformer's own settings, after the header and the common part.</summary>
    private protected abstract void SaveSettings(ModelSaveContext ctx);

    private void SaveModel(ModelSaveContext ctx)
    {
        ctx.SetVersionInfo(Version);
        SaveCommon(ctx);
        SaveSettings(ctx);
    }

    /// <summary>The layer the transform runs, for the ONNX export (created on first use).</summary>
    internal nn.Module<Tensor, Tensor> Layer => Module;

    /// <summary>The module on <see cref="Device"/>, created on first use.</summary>
    private protected nn.Module<Tensor, Tensor> Module
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _module.Value;
        }
    }

    /// <summary>Output of the layer for one input layout.</summary>
    /// <param name="Bins">Frequency rows of the output; 0 when the output is audio <c>[channels, samples]</c>.</param>
    /// <param name="Frames">Output frames for an input of the given length per channel (samples or frames).</param>
    /// <param name="Annotations">Annotations of the output column.</param>
    private protected sealed record OutputLayout(int Bins, Func<int, int> Frames, IReadOnlyDictionary<string, int> Annotations)
    {
        /// <summary>Values per row whatever the input's length (a pooled embedding): the column then has this known size
        /// even for audio of variable length. Null: the size follows the input.</summary>
        public int? FixedSize { get; init; }
    }

    internal SignalColumn DescribeInput(DataViewSchema schema)
        => SignalColumn.Describe(Host, schema, InputColumnName, InputIsSpectrum, BinsFromOptions);

    internal DataViewSchema.DetachedColumn OutputColumn(SignalColumn input)
    {
        var layout = GetOutputLayout(input);
        VectorDataViewType type;
        if (layout.FixedSize is int size)
        {
            type = input.HasChannelDimension
                ? new VectorDataViewType(NumberDataViewType.Single, input.Channels, size)
                : new VectorDataViewType(NumberDataViewType.Single, size);
        }
        else if (input.IsFixedSize)
        {
            int frames = layout.Frames(input.Length);
            int[] perChannel = layout.Bins > 0 ? [layout.Bins, frames] : [frames]; // Bins 0: the output is audio
            type = input.HasChannelDimension
                ? new VectorDataViewType(NumberDataViewType.Single, (int[])[input.Channels, .. perChannel])
                : new VectorDataViewType(NumberDataViewType.Single, perChannel);
        }
        else
        {
            type = new VectorDataViewType(NumberDataViewType.Single);
        }
        var annotations = new Dictionary<string, int>(layout.Annotations) { [AudioAnnotationKinds.ChannelCount] = input.Channels };
        if (layout.Bins > 0) annotations[AudioAnnotationKinds.BinCount] = layout.Bins;
        return new DataViewSchema.DetachedColumn(OutputColumnName, type, SignalColumn.BuildAnnotations(annotations));
    }

    /// <summary>
    /// Input samples per call of the layer on the CPU (2^18: 16 one-second clips at 16 kHz). A whole batch of 64 such
    /// clips makes 13 MB frame and spectrum tensors that go through main memory between the steps; in chunks of this
    /// size they stay in cache (measured on 2 cores: 64 clips 4.2 ms whole, 3.4 ms in chunks of 16; 16 four-second
    /// clips 8.0 ms whole, 4.3 ms in chunks of 4). A GPU gets the whole batch in one call.
    /// </summary>
    internal const int CpuChunkSamples = 1 << 18;

    /// <summary>Rows per CPU chunk: at most <see cref="CpuChunkSamples"/> samples each, in near-equal chunks (50 rows
    /// of 16,000 samples: 4 chunks of 13 or 12, not 16, 16, 16 and 2).</summary>
    internal static int ChunkRows(int rows, int length)
    {
        int most = Math.Max(1, CpuChunkSamples / Math.Max(length, 1));
        int chunks = (rows + most - 1) / most;
        return (rows + chunks - 1) / chunks;
    }

    /// <summary>
    /// Runs the layer over <paramref name="count"/> rows. Rows of equal length go through the device together;
    /// a failure is recorded on the rows it concerns.
    /// </summary>
    internal void Compute(SignalColumn layout, VBuffer<float>[] inputs, long[] positions, int count, RowResult[] results, BatchBuffers buffers)
    {
        var groups = new Dictionary<int, List<int>>();
        for (int i = 0; i < count; i++)
        {
            if (results[i].Error is not null) continue;
            int length = inputs[i].Length;
            if (layout.CheckRowLength(length) is string reason)
            {
                results[i] = RowResult.Failed(RowError(positions[i], reason, null));
                continue;
            }
            if (!groups.TryGetValue(length, out var rows)) groups[length] = rows = [];
            rows.Add(i);
        }

        if (_deviceFault is not null) throw _deviceFault;
        var module = Module;
        var staging = Device.type == DeviceType.CPU ? null : buffers.Staging;
        foreach (var (length, rows) in groups)
        {
            try
            {
                DeviceMemory.RunSplitting(rows.Count, (start, n) =>
                {
                    // Pooled: a fresh array per batch (4 MB for 64 one-second clips) cost 1.2 ms in allocation and page
                    // faults against 0.2 ms for the copy itself. Returned once the layer's output has been copied out.
                    long samples = (long)n * length;
                    var batch = ArrayPool<float>.Shared.Rent(checked((int)samples));
                    for (int k = 0; k < n; k++)
                    {
                        ref var v = ref inputs[rows[start + k]];
                        var dst = batch.AsSpan(k * length, length);
                        if (v.IsDense) v.GetValues().CopyTo(dst);
                        else { dst.Clear(); v.CopyTo(dst); }
                    }
                    long[] rowShape = layout.RowShape(length);
                    float[]? output = null;
                    int perRow = 0;
                    try
                    {
                        // On the CPU the batch goes through the layer in near-equal chunks whose intermediate tensors
                        // stay in cache; a GPU takes it whole.
                        int chunk = Device.type == DeviceType.CPU ? ChunkRows(n, length) : n;
                        for (int c = 0; c < n; c += chunk)
                        {
                            int m = Math.Min(chunk, n - c);
                            using var scope = NewDisposeScope();
                            using var _ = no_grad();
                            var y = module.call(TensorCopy.FromArray(batch, (long)c * length, (long)m * length, [m, .. rowShape], Device, staging));
                            if (output is null)
                            {
                                perRow = checked((int)(y.numel() / m));
                                output = buffers.Rent(checked(n * perRow));
                            }
                            else if (y.numel() != (long)m * perRow)
                                throw new InvalidOperationException($"the layer returned {y.numel() / m} values per row for a chunk, {perRow} for the first");
                            TensorCopy.CopyTo(y, output, (long)c * perRow, staging);
                        }
                    }
                    finally
                    {
                        // Each chunk's scope has disposed its tensors: none still views the array.
                        ArrayPool<float>.Shared.Return(batch);
                    }
                    for (int k = 0; k < n; k++)
                        results[rows[start + k]] = new RowResult(output!, k * perRow, perRow, null);
                });
            }
            catch (Exception e) when (DeviceMemory.IsDeviceFault(e))
            {
                // Later batches, of this cursor or another, fail at once with the same message instead of trying.
                throw _deviceFault = DeviceMemory.Fault(ComponentName, Device, e);
            }
            catch (Exception e) when (DeviceMemory.IsRowDataError(e))
            {
                foreach (int i in rows)
                    if (results[i].Buffer is null)
                        results[i] = RowResult.Failed(RowError(positions[i], e.Message, e));
            }
        }
    }

    private Exception RowError(long position, string reason, Exception? inner)
        => new InvalidOperationException($"{ComponentName}: cannot process row {position} of column '{InputColumnName}': {reason}", inner);

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        Host.CheckValue(inputSchema, nameof(inputSchema));
        return RowToRowMapperTransform.GetOutputSchema(inputSchema, new Mapper(this, inputSchema));
    }

    /// <summary>Applies the transformer lazily: rows are computed in batches of <see cref="BatchSize"/> as cursors move.</summary>
    public IDataView Transform(IDataView input)
    {
        Host.CheckValue(input, nameof(input));
        var layout = DescribeInput(input.Schema);
        var output = OutputColumn(layout);
        return new BatchingDataView<VBuffer<float>>(input, InputColumnName, output, BatchSize,
            (inputs, positions, count, results, buffers) => Compute(layout, inputs, positions, count, results, buffers),
            new Step(this, layout, output.Type), TorchDevices.ReadsAhead(Device, ReadAhead));
    }

    bool ITransformer.IsRowToRowMapper => true;

    IRowToRowMapper ITransformer.GetRowToRowMapper(DataViewSchema inputSchema)
    {
        Host.CheckValue(inputSchema, nameof(inputSchema));
        return AudioTransformLoaders.Wrap(Host, new EmptyDataView(Host, inputSchema), this);
    }

    IRowMapper IRowMapperSource.MakeRowMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        Host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        SaveModel(ctx);
    }

    /// <summary>Frees the TorchSharp module.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_module.IsValueCreated) _module.Value.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The transform in a data pipe: saved as the transformer, converted to ONNX by AudioOnnxExport's forms.</summary>
    private sealed class Step(GpuAudioTransformerBase parent, SignalColumn input, DataViewType outputType) : IDataPipeStep
    {
        public void Save(ModelSaveContext ctx) => ((ICanSaveModel)parent).Save(ctx);

        public bool CanSaveOnnx(OnnxContext ctx) => Onnx.AudioOnnxExport.CanConvert(parent, input);

        public void SaveAsOnnx(OnnxContext ctx) => Onnx.AudioOnnxExport.Convert(ctx, parent, input, outputType);
    }

    /// <summary>Single-row mapper: what PredictionEngine and GetRowToRowMapper use (a batch of one).</summary>
    private sealed class Mapper : IRowMapper
    {
        private readonly GpuAudioTransformerBase _parent;
        private readonly DataViewSchema _inputSchema;
        private readonly SignalColumn _layout;
        private readonly DataViewSchema.DetachedColumn _output;
        private readonly int _inputIndex;

        public Mapper(GpuAudioTransformerBase parent, DataViewSchema inputSchema)
        {
            _parent = parent;
            _inputSchema = inputSchema;
            _layout = parent.DescribeInput(inputSchema);
            _output = parent.OutputColumn(_layout);
            _inputIndex = inputSchema[parent.InputColumnName].Index;
        }

        public DataViewSchema.DetachedColumn[] GetOutputColumns() => [_output];

        public Func<int, bool> GetDependencies(Func<int, bool> activeOutput)
        {
            bool active = activeOutput(0);
            return col => active && col == _inputIndex;
        }

        public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action? disposer)
        {
            disposer = null;
            var getters = new Delegate[1];
            if (!activeOutput(0)) return getters;

            var source = input.GetGetter<VBuffer<float>>(input.Schema[_inputIndex]);
            var inputs = new VBuffer<float>[1];
            var positions = new long[1];
            var results = new RowResult[1];
            long cached = -1;
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
            {
                if (cached != input.Position)
                {
                    results[0] = default;
                    positions[0] = input.Position;
                    source(ref inputs[0]);
                    _parent.Compute(_layout, inputs, positions, 1, results, BatchBuffers.Fresh);
                    cached = input.Position;
                }
                results[0].CopyTo(ref dst);
            };
            getters[0] = getter;
            return getters;
        }

        public ITransformer GetTransformer() => _parent;

        void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_parent).Save(ctx);
    }
}
