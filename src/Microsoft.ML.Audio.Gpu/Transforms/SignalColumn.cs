namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// What an audio or spectrum column holds: a row-major <c>[channels, samples]</c> or <c>[channels, bins, frames]</c>
/// vector of <see cref="float"/>, with its shape taken from the vector's dimensions and the column's annotations.
/// </summary>
internal sealed class SignalColumn
{
    /// <summary>Channel count (1 for mono).</summary>
    public int Channels { get; init; } = 1;
    /// <summary>Whether the vector's dimensions include the channel dimension (multi-channel layout).</summary>
    public bool HasChannelDimension { get; init; }
    /// <summary>Frequency rows for a spectrum; 0 for audio.</summary>
    public int Bins { get; init; }
    /// <summary>Samples (audio) or frames (spectrum) per channel; 0 when the vector has a variable size.</summary>
    public int Length { get; init; }
    /// <summary>Annotations that the input carries, by kind; null when absent.</summary>
    public int? SampleRate { get; init; }
    public int? FftLength { get; init; }
    public int? HopLength { get; init; }
    public int? SpectrumPower { get; init; }

    public bool IsFixedSize => Length > 0;

    /// <summary>Tensor shape of one row without the batch dimension: <c>[C, T]</c> or <c>[C, F, frames]</c>.</summary>
    public long[] RowShape(int valuesInRow)
    {
        int perChannel = valuesInRow / Channels;
        return Bins == 0 ? [Channels, perChannel] : [Channels, Bins, perChannel / Bins];
    }

    /// <summary>Checks that one row's value count fits the column's layout; returns a reason when it does not.</summary>
    public string? CheckRowLength(int valuesInRow)
    {
        if (valuesInRow == 0) return "the row holds no values";
        int unit = Channels * Math.Max(Bins, 1);
        if (valuesInRow % unit != 0)
            return $"the row holds {valuesInRow} values, not a multiple of {unit} ({Channels} channel(s){(Bins > 0 ? $" x {Bins} bins" : "")})";
        return null;
    }

    /// <summary>
    /// Reads the column's layout, or throws an <see cref="ArgumentOutOfRangeException"/> naming the column and what
    /// was expected (ML.NET's "Schema mismatch for input column" message).
    /// </summary>
    /// <param name="ectx">Exception context.</param>
    /// <param name="schema">Input schema.</param>
    /// <param name="name">Column name.</param>
    /// <param name="spectrum">Expect a spectrum (with bins) rather than audio.</param>
    /// <param name="binsFromOptions">For a spectrum of variable size without a BinCount annotation, the bin count the options imply.</param>
    public static SignalColumn Describe(IExceptionContext ectx, DataViewSchema schema, string name, bool spectrum, int? binsFromOptions = null)
    {
        var col = schema.GetColumnOrNull(name) ?? throw ectx.ExceptSchemaMismatch(nameof(schema), "input", name);
        string expected = spectrum
            ? "vector of Single laid out as [bins, frames] or [channels, bins, frames]"
            : "vector of Single laid out as [samples] or [channels, samples]";
        if (col.Type is not VectorDataViewType vt || vt.ItemType != NumberDataViewType.Single)
            throw ectx.ExceptSchemaMismatch(nameof(schema), "input", name, expected, col.Type.ToString());

        var ann = col.Annotations;
        int? sampleRate = GetInt(ann, AudioAnnotationKinds.SampleRate);
        int? channels = GetInt(ann, AudioAnnotationKinds.ChannelCount);
        int? bins = GetInt(ann, AudioAnnotationKinds.BinCount);
        var dims = vt.Dimensions;

        if (!vt.IsKnownSize)
        {
            int c = channels ?? 1;
            int f = spectrum ? bins ?? binsFromOptions ?? 0 : 0;
            if (spectrum && f <= 0)
                throw ectx.ExceptSchemaMismatch(nameof(schema), "input", name,
                    "spectrum vector with known dimensions [bins, frames] or a BinCount annotation", vt.ToString());
            return new SignalColumn
            {
                Channels = c, HasChannelDimension = c > 1, Bins = f, Length = 0,
                SampleRate = sampleRate, FftLength = GetInt(ann, AudioAnnotationKinds.FftLength),
                HopLength = GetInt(ann, AudioAnnotationKinds.HopLength), SpectrumPower = GetInt(ann, AudioAnnotationKinds.SpectrumPower),
            };
        }

        int rank = dims.Length;
        bool ok = spectrum ? rank is 2 or 3 : rank is 1 or 2;
        if (!ok)
            throw ectx.ExceptSchemaMismatch(nameof(schema), "input", name, expected, $"{vt} with dimensions [{string.Join(", ", dims.ToArray())}]");
        bool hasChannels = spectrum ? rank == 3 : rank == 2;
        int ch = hasChannels ? dims[0] : 1;
        if (channels is int annotated && annotated != ch)
            throw ectx.ExceptSchemaMismatch(nameof(schema), "input", name,
                $"{annotated} channel(s) as its {AudioAnnotationKinds.ChannelCount} annotation says", $"dimensions [{string.Join(", ", dims.ToArray())}]");
        return new SignalColumn
        {
            Channels = ch,
            HasChannelDimension = hasChannels,
            Bins = spectrum ? dims[rank - 2] : 0,
            Length = dims[rank - 1],
            SampleRate = sampleRate,
            FftLength = GetInt(ann, AudioAnnotationKinds.FftLength),
            HopLength = GetInt(ann, AudioAnnotationKinds.HopLength),
            SpectrumPower = GetInt(ann, AudioAnnotationKinds.SpectrumPower),
        };
    }

    /// <summary>
    /// The sample rate to use: the options' and the column's must agree when both are given; throws an
    /// <see cref="ArgumentOutOfRangeException"/> naming the column and both values otherwise.
    /// </summary>
    public int ResolveSampleRate(IExceptionContext ectx, string columnName, int? fromOptions, string optionName)
    {
        if (fromOptions is int o && SampleRate is int a && o != a)
            throw ectx.ExceptSchemaMismatch("inputSchema", "input", columnName,
                $"audio at {o} Hz as {optionName} says", $"audio at {a} Hz (its {AudioAnnotationKinds.SampleRate} annotation)");
        return fromOptions ?? SampleRate ?? throw new ArgumentException(
            $"The sample rate of column '{columnName}' is unknown: it has no {AudioAnnotationKinds.SampleRate} annotation, so set {optionName}.", optionName);
    }

    private static int? GetInt(DataViewSchema.Annotations annotations, string kind)
    {
        var col = annotations.Schema.GetColumnOrNull(kind);
        if (col is not DataViewSchema.Column c || c.Type != NumberDataViewType.Int32) return null;
        int value = 0;
        annotations.GetValue(kind, ref value);
        return value;
    }

    /// <summary>Annotations for an output column.</summary>
    public static DataViewSchema.Annotations BuildAnnotations(IReadOnlyDictionary<string, int> values)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        foreach (var (kind, v) in values)
        {
            int value = v;
            builder.Add(kind, NumberDataViewType.Int32, (ref int dst) => dst = value);
        }
        return builder.ToAnnotations();
    }
}
