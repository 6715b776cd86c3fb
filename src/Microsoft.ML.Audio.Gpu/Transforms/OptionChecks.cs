namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>Defaults of the GPU transforms that are not the layers' own.</summary>
internal static class GpuTransformDefaults
{
    /// <summary>Rows read ahead and computed together on the CPU: 64 (one-second clips at 16 kHz: 4 MB, split further
    /// into cache-sized chunks).</summary>
    public const int CpuBatchSize = 64;

    /// <summary>Rows read ahead and computed together on a GPU: 256. A GPU needs more rows per call than a CPU to keep
    /// busy; not yet measured on one (docs/benchmarks.md), and out-of-memory splitting keeps a too-large batch safe.</summary>
    public const int GpuBatchSize = 256;

    /// <summary>The batch size when the options leave it unset.</summary>
    public static int BatchSizeFor(TorchSharp.torch.Device device) => device.type == DeviceType.CPU ? CpuBatchSize : GpuBatchSize;

    /// <summary>Dynamic range of the decibel transforms: 80 dB (librosa and Kapre; the layer itself defaults to none,
    /// as torchaudio does).</summary>
    public const double TopDb = 80.0;
}

/// <summary>Checks of options and schema shapes shared by the transforms; messages name the property or column.</summary>
internal static class OptionChecks
{
    /// <summary>
    /// The estimator-level check (before any data): the input column exists and is a vector of Single; the output is a
    /// vector of Single of known size when the input's is, with the given annotations.
    /// </summary>
    public static SchemaShape AudioOutputShape(IHostEnvironment env, SchemaShape inputSchema, string inputColumnName, string outputColumnName,
        bool spectrum, IEnumerable<string> annotationKinds, bool knownSize = false)
    {
        Contracts.CheckValue(inputSchema, nameof(inputSchema));
        if (!inputSchema.TryFindColumn(inputColumnName, out var col))
            throw env.ExceptSchemaMismatch(nameof(inputSchema), "input", inputColumnName);
        if (col.Kind == SchemaShape.Column.VectorKind.Scalar || col.ItemType != NumberDataViewType.Single)
            throw env.ExceptSchemaMismatch(nameof(inputSchema), "input", inputColumnName,
                spectrum ? "vector of Single (a spectrum)" : "vector of Single (audio samples)", col.GetTypeString());
        var annotations = new SchemaShape(annotationKinds.Select(k =>
            new SchemaShape.Column(k, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Int32, false)));
        var result = inputSchema.ToDictionary(c => c.Name);
        // A pooled output has its size whatever the input's length: a known-size vector even for variable-length audio.
        var kind = knownSize ? SchemaShape.Column.VectorKind.Vector : col.Kind;
        result[outputColumnName] = new SchemaShape.Column(outputColumnName, kind, NumberDataViewType.Single, false, annotations);
        return new SchemaShape(result.Values);
    }

    /// <summary>Settings read from a model, checked as the estimator checks them: a failing check is a decode error
    /// ("Invalid <paramref name="what"/> in the model: ...").</summary>
    public static T Decoded<T>(IExceptionContext ectx, T settings, Action<T> validate, string what)
    {
        try { validate(settings); }
        catch (ArgumentException e) { throw ectx.ExceptDecode(e, $"Invalid {what} in the model: {e.Message}"); }
        return settings;
    }
}
