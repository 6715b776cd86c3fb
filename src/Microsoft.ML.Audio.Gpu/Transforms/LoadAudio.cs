using Microsoft.ML.Audio.Gpu.IO;

[assembly: LoadableClass(typeof(LoadAudioTransformer), null, typeof(SignatureLoadModel), LoadAudioTransformer.UserName, LoadAudioTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>Options of <see cref="LoadAudioEstimator"/> (<c>mlContext.Transforms.Audio.LoadAudio</c>).</summary>
public sealed class LoadAudioOptions
{
    /// <summary>Sample rate of the output in Hz; files at another rate are resampled (see <see cref="AudioDecoder"/> for
    /// the resampler and its measured quality). Default 16000.</summary>
    public int SampleRate { get; set; } = Defaults.SampleRate;

    /// <summary>Mix all channels down to one by averaging. Default true. When false, the column holds
    /// <c>[channels, samples]</c> and every file must have <see cref="ChannelCount"/> channels.</summary>
    public bool Mono { get; set; } = true;

    /// <summary>Channels of every file when <see cref="Mono"/> is false (a column has one shape). Default null; required
    /// when <see cref="Mono"/> is false.</summary>
    public int? ChannelCount { get; set; }

    /// <summary>Fixed duration in seconds: each clip is zero-padded (see <see cref="Pad"/>) or cropped to exactly
    /// <c>round(DurationSeconds · SampleRate)</c> samples, and the column has a known size (which GPU batching and most
    /// networks need). Default null: the whole file, and a column of variable size.</summary>
    public double? DurationSeconds { get; set; }

    /// <summary>With <see cref="DurationSeconds"/>, which part of a longer clip to keep: its start (default, reads only
    /// what is needed) or its loudest window (<see cref="CropAlignment.Loudest"/>, searched in the first 30 s), so a
    /// short word anywhere in a longer recording is kept whole.</summary>
    public CropAlignment Crop { get; set; } = CropAlignment.Start;

    /// <summary>With <see cref="DurationSeconds"/>, where a shorter clip is placed: at the start, the silence after it
    /// (<see cref="PadAlignment.Start"/>), or in the middle (<see cref="PadAlignment.Center"/>, the default), as keyword
    /// recordings are cut, so that a short word sits where a long one does. Models saved before this option load with
    /// <see cref="PadAlignment.Start"/>, as they were trained.</summary>
    public PadAlignment Pad { get; set; } = PadAlignment.Center;

    /// <summary>Folder that relative paths are resolved against. Default null: the current directory.</summary>
    public string? BaseFolder { get; set; }

    internal static class Defaults
    {
        public const int SampleRate = 16000;
    }

    internal int Channels => Mono ? 1 : ChannelCount ?? 0;

    internal int? FixedLength => DurationSeconds is double d ? (int)Math.Round(d * SampleRate) : null;

    internal void Validate()
    {
        Layers.Check.Positive(SampleRate, nameof(SampleRate));
        Layers.Check.Defined(Crop, nameof(Crop));
        Layers.Check.Defined(Pad, nameof(Pad));
        if (DurationSeconds is double d)
        {
            Layers.Check.Positive(d, nameof(DurationSeconds));
            if (d * SampleRate < 1 || d * SampleRate > int.MaxValue / Math.Max(1, Channels))
                throw new ArgumentOutOfRangeException(nameof(DurationSeconds), d, $"DurationSeconds gives {d * SampleRate:F0} samples at {SampleRate} Hz; it must give between 1 and {int.MaxValue / Math.Max(1, Channels)}");
        }
        if (!Mono)
        {
            if (ChannelCount is not int c)
                throw new ArgumentException("ChannelCount must be set when Mono is false: a column has one shape, [ChannelCount, samples].", nameof(ChannelCount));
            Layers.Check.Positive(c, nameof(ChannelCount));
        }
    }

    internal LoadAudioOptions Clone() => (LoadAudioOptions)MemberwiseClone();

    internal AudioDecodeOptions Decoding => new() { SampleRate = SampleRate, Mono = Mono, DurationSeconds = DurationSeconds, Crop = Crop, Pad = Pad };
}

/// <summary>
/// Decodes audio files into a column of samples in [-1, 1]: from a text column of paths, or from a column of file
/// bytes (<c>VBuffer&lt;byte&gt;</c>). Decoding runs on the CPU (<see cref="AudioDecoder"/>, NAudio); the output
/// carries SampleRate and ChannelCount annotations for the transforms that follow.
/// </summary>
/// <remarks>
/// A file that cannot be decoded (missing, empty, truncated, corrupt, an unsupported encoding, NaN samples, no samples
/// at all, a channel count other than <see cref="LoadAudioOptions.ChannelCount"/>) raises an <see cref="AudioDecodeException"/> naming it
/// when its row is read; other rows are unaffected.
/// </remarks>
public sealed class LoadAudioTransformer : ITransformer, IRowMapperSource
{
    internal const string UserName = "Load Audio Transform";
    internal const string LoaderSignature = "LoadAudioTransform";

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "AUDLOAD ",
        // verWrittenCur: 0x00010001, // Initial
        verWrittenCur: 0x00010002, // Pad alignment
        verReadableCur: 0x00010002,
        verWeCanReadBack: 0x00010001,
        loaderSignature: LoaderSignature,
        loaderAssemblyName: typeof(LoadAudioTransformer).Assembly.FullName);

    private readonly IHost _host;
    private readonly LoadAudioOptions _options;

    /// <summary>Name of the column of decoded samples.</summary>
    public string OutputColumnName { get; }

    /// <summary>Name of the column of paths or file bytes.</summary>
    public string InputColumnName { get; }

    /// <summary>The decoding settings (a copy).</summary>
    public LoadAudioOptions Options => _options.Clone();

    internal LoadAudioTransformer(IHostEnvironment env, string outputColumnName, string inputColumnName, LoadAudioOptions options)
    {
        _host = Contracts.CheckRef(env, nameof(env)).Register(nameof(LoadAudioTransformer));
        _host.CheckNonEmpty(outputColumnName, nameof(outputColumnName));
        _host.CheckNonEmpty(inputColumnName, nameof(inputColumnName));
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        _options = options.Clone();
        _options.Validate();
    }

    // Factory method for SignatureLoadModel.
    private static LoadAudioTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        Contracts.CheckValue(env, nameof(env));
        ctx.CheckAtModel(GetVersionInfo());
        // *** Binary format ***
        // string: output column name
        // string: input column name
        // int: sample rate
        // byte: mono (1) or not (0)
        // int: channel count, 0 = none
        // double: duration in seconds, NaN = whole file
        // int: crop alignment (CropAlignment)
        // string or null: base folder
        // int: pad alignment (PadAlignment; from 0x00010002, before which clips were padded at their end)
        string output = ctx.LoadNonEmptyString(), input = ctx.LoadNonEmptyString();
        var options = new LoadAudioOptions { SampleRate = ctx.Reader.ReadInt32() };
        byte mono = ctx.Reader.ReadByte();
        env.CheckDecode(mono <= 1);
        options.Mono = mono == 1;
        int channels = ctx.Reader.ReadInt32();
        env.CheckDecode(channels >= 0);
        options.ChannelCount = channels == 0 ? null : channels;
        double duration = ctx.Reader.ReadDouble();
        options.DurationSeconds = double.IsNaN(duration) ? null : duration;
        options.Crop = (CropAlignment)ctx.Reader.ReadInt32();
        options.BaseFolder = ctx.LoadStringOrNull();
        options.Pad = ctx.Header.ModelVerWritten >= 0x00010002 ? (PadAlignment)ctx.Reader.ReadInt32() : PadAlignment.Start;
        OptionChecks.Decoded(env, options, v => v.Validate(), "LoadAudio settings");
        return new LoadAudioTransformer(env, output, input, options);
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        _host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.SaveNonEmptyString(OutputColumnName);
        ctx.SaveNonEmptyString(InputColumnName);
        ctx.Writer.Write(_options.SampleRate);
        ctx.Writer.Write((byte)(_options.Mono ? 1 : 0));
        ctx.Writer.Write(_options.ChannelCount ?? 0);
        ctx.Writer.Write(_options.DurationSeconds ?? double.NaN);
        ctx.Writer.Write((int)_options.Crop);
        ctx.SaveStringOrNull(_options.BaseFolder);
        ctx.Writer.Write((int)_options.Pad);
    }

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        return RowToRowMapperTransform.GetOutputSchema(inputSchema, new Mapper(this, inputSchema));
    }

    /// <summary>Rows read ahead and decoded in parallel by a cursor.</summary>
    internal static int ReadAhead => Math.Max(8, 2 * Environment.ProcessorCount);

    /// <summary>
    /// Decodes lazily as cursors move: each cursor reads <see cref="ReadAhead"/> rows ahead and decodes their files in
    /// parallel, then hands the rows out in order. A file that fails raises its exception when its row is read.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        _host.CheckValue(input, nameof(input));
        var mapper = new Mapper(this, input.Schema);
        var output = mapper.GetOutputColumns()[0];
        return mapper.InputIsBytes
            ? new BatchingDataView<VBuffer<byte>>(input, InputColumnName, output, ReadAhead, (v, p, n, r, _) => DecodeBatch(v, p, n, r, mapper.DecodeBytes), new NoOnnxStep(this))
            : new BatchingDataView<ReadOnlyMemory<char>>(input, InputColumnName, output, ReadAhead, (v, p, n, r, _) => DecodeBatch(v, p, n, r, mapper.DecodePath), new NoOnnxStep(this));
    }

    private delegate RowResult Decoder<T>(in T value, long position);

    private static void DecodeBatch<T>(T[] inputs, long[] positions, int count, RowResult[] results, Decoder<T> decode)
    {
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            if (results[i].Error is not null) return;
            try { results[i] = decode(inputs[i], positions[i]); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                results[i] = RowResult.Failed(e); // raised when this row is read
            }
        });
    }

    bool ITransformer.IsRowToRowMapper => true;

    IRowToRowMapper ITransformer.GetRowToRowMapper(DataViewSchema inputSchema)
    {
        _host.CheckValue(inputSchema, nameof(inputSchema));
        return AudioTransformLoaders.Wrap(_host, new EmptyDataView(_host, inputSchema), this);
    }

    IRowMapper IRowMapperSource.MakeRowMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

    private sealed class Mapper : IRowMapper
    {
        private readonly LoadAudioTransformer _parent;
        private readonly int _inputIndex;
        private readonly bool _bytes;
        private readonly DataViewSchema.DetachedColumn _output;

        public Mapper(LoadAudioTransformer parent, DataViewSchema inputSchema)
        {
            _parent = parent;
            var host = parent._host;
            var col = inputSchema.GetColumnOrNull(parent.InputColumnName)
                ?? throw host.ExceptSchemaMismatch(nameof(inputSchema), "input", parent.InputColumnName);
            _inputIndex = col.Index;
            if (col.Type is TextDataViewType) _bytes = false;
            else if (col.Type is VectorDataViewType v && v.ItemType == NumberDataViewType.Byte) _bytes = true;
            else throw host.ExceptSchemaMismatch(nameof(inputSchema), "input", parent.InputColumnName, "String (file paths) or vector of Byte (file contents)", col.Type.ToString());

            var o = parent._options;
            VectorDataViewType type = o.FixedLength is int n
                ? (o.Mono ? new VectorDataViewType(NumberDataViewType.Single, n) : new VectorDataViewType(NumberDataViewType.Single, o.Channels, n))
                : new VectorDataViewType(NumberDataViewType.Single);
            var annotations = SignalColumn.BuildAnnotations(new Dictionary<string, int>
            {
                [AudioAnnotationKinds.SampleRate] = o.SampleRate,
                [AudioAnnotationKinds.ChannelCount] = o.Channels,
            });
            _output = new DataViewSchema.DetachedColumn(parent.OutputColumnName, type, annotations);
        }

        public DataViewSchema.DetachedColumn[] GetOutputColumns() => [_output];

        public Func<int, bool> GetDependencies(Func<int, bool> activeOutput)
        {
            bool active = activeOutput(0);
            return col => active && col == _inputIndex;
        }

        public bool InputIsBytes => _bytes;

        public Delegate[] CreateGetters(DataViewRow input, Func<int, bool> activeOutput, out Action? disposer)
        {
            disposer = null;
            var getters = new Delegate[1];
            if (!activeOutput(0)) return getters;
            ValueGetter<VBuffer<float>> getter;
            if (_bytes)
            {
                var source = input.GetGetter<VBuffer<byte>>(input.Schema[_inputIndex]);
                var bytes = default(VBuffer<byte>);
                getter = (ref VBuffer<float> dst) =>
                {
                    source(ref bytes);
                    DecodeBytes(bytes, input.Position).CopyTo(ref dst);
                };
            }
            else
            {
                var source = input.GetGetter<ReadOnlyMemory<char>>(input.Schema[_inputIndex]);
                var text = default(ReadOnlyMemory<char>);
                getter = (ref VBuffer<float> dst) =>
                {
                    source(ref text);
                    DecodePath(text, input.Position).CopyTo(ref dst);
                };
            }
            getters[0] = getter;
            return getters;
        }

        /// <summary>Decodes the file at a path (relative ones against BaseFolder); throws naming it.</summary>
        public RowResult DecodePath(in ReadOnlyMemory<char> text, long position)
        {
            var o = _parent._options;
            string path = text.ToString().Trim();
            if (path.Length == 0)
                throw new AudioDecodeException($"column '{_parent.InputColumnName}', row {position}", "the path is empty");
            if (o.BaseFolder is string folder && !Path.IsPathRooted(path)) path = Path.Combine(folder, path);
            return Check(AudioDecoder.Decode(path, o.Decoding), path);
        }

        /// <summary>Decodes a file's bytes; throws naming the column and row.</summary>
        public RowResult DecodeBytes(in VBuffer<byte> bytes, long position)
        {
            string name = $"column '{_parent.InputColumnName}', row {position}";
            var data = new byte[bytes.Length];
            bytes.CopyTo(data);
            return Check(AudioDecoder.Decode(data, name, _parent._options.Decoding), name);
        }

        private RowResult Check(AudioBuffer audio, string source)
        {
            var o = _parent._options;
            if (audio.AudioFrames == 0)
                throw new AudioDecodeException(source, "it holds no audio samples (an empty data chunk)");
            if (audio.Channels != o.Channels)
                throw new AudioDecodeException(source, $"it has {audio.Channels} channel(s) but LoadAudio expects {o.Channels} (ChannelCount)");
            return new RowResult(audio.Samples, 0, audio.Samples.Length, null);
        }

        public ITransformer GetTransformer() => _parent;

        void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_parent).Save(ctx);
    }
}

/// <summary>Estimator of <see cref="LoadAudioTransformer"/>: decodes audio files into samples.</summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ###  Estimator Characteristics
/// |  |  |
/// | -- | -- |
/// | Does this estimator need to look at the data to train its parameters? | No |
/// | Input column data type | <xref:System.String> (file paths) or vector of <xref:System.Byte> (file contents) |
/// | Output column data type | Vector of <xref:System.Single>: [samples] (mono) or [channels, samples]; known size with DurationSeconds |
/// | Runs on GPU | No (decoding and resampling run on the CPU) |
/// | Required NuGet in addition to Microsoft.ML | Kapre.MLNet (NAudio.Core) |
/// | Exportable to ONNX | Its settings, as the exported file's decoding metadata (AudioOnnxExport, docs/onnx.md); decoding stays outside the graph |
/// ]]></format>
/// </remarks>
public sealed class LoadAudioEstimator : IEstimator<LoadAudioTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly string _output, _input;
    private readonly LoadAudioOptions _options;

    internal LoadAudioEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, LoadAudioOptions? options)
    {
        _env = Contracts.CheckRef(env, nameof(env));
        _output = outputColumnName;
        _input = inputColumnName ?? outputColumnName;
        _options = (options ?? new LoadAudioOptions()).Clone();
        _options.Validate();
    }

    /// <summary>Checks the input column and returns the transformer (nothing is learned).</summary>
    public LoadAudioTransformer Fit(IDataView input)
    {
        var transformer = new LoadAudioTransformer(_env, _output, _input, _options);
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        _env.CheckValue(inputSchema, nameof(inputSchema));
        if (!inputSchema.TryFindColumn(_input, out var col))
            throw _env.ExceptSchemaMismatch(nameof(inputSchema), "input", _input);
        bool text = col.Kind == SchemaShape.Column.VectorKind.Scalar && col.ItemType is TextDataViewType;
        bool bytes = col.Kind != SchemaShape.Column.VectorKind.Scalar && col.ItemType == NumberDataViewType.Byte;
        if (!text && !bytes)
            throw _env.ExceptSchemaMismatch(nameof(inputSchema), "input", _input, "String (file paths) or vector of Byte (file contents)", col.GetTypeString());
        var annotations = new SchemaShape(new[] { AudioAnnotationKinds.SampleRate, AudioAnnotationKinds.ChannelCount }
            .Select(k => new SchemaShape.Column(k, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Int32, false)));
        var result = inputSchema.ToDictionary(c => c.Name);
        result[_output] = new SchemaShape.Column(_output,
            _options.DurationSeconds is null ? SchemaShape.Column.VectorKind.VariableVector : SchemaShape.Column.VectorKind.Vector,
            NumberDataViewType.Single, false, annotations);
        return new SchemaShape(result.Values);
    }
}
