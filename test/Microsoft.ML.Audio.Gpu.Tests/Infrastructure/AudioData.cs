using Microsoft.ML;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Data;

namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>A row of audio, as a data view of it would hold.</summary>
public sealed class AudioRow
{
    public int Id { get; set; }
    public float[] Audio { get; set; } = [];
}

/// <summary>In-memory audio data views, with the annotations LoadAudio would attach.</summary>
public static class AudioData
{
    public static float[] Noise(int length, int seed, float amplitude = 0.5f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)((rng.NextDouble() * 2 - 1) * amplitude)).ToArray();
    }

    public static AudioRow[] NoiseRows(int count, int length, int seed = 1)
        => Enumerable.Range(0, count).Select(i => new AudioRow { Id = i, Audio = Noise(length, seed + i) }).ToArray();

    /// <summary>A data view of <paramref name="rows"/>: Audio is a vector of the given dimensions (null = variable size),
    /// annotated with a sample rate (null = none) and channel count.</summary>
    public static IDataView Load(MLContext ml, IEnumerable<AudioRow> rows, int[]? dimensions, int? sampleRate, int? channels = null)
    {
        var definition = SchemaDefinition.Create(typeof(AudioRow));
        var audio = definition[nameof(AudioRow.Audio)];
        audio.ColumnType = dimensions is null
            ? new VectorDataViewType(NumberDataViewType.Single)
            : new VectorDataViewType(NumberDataViewType.Single, dimensions);
        if (sampleRate is int sr) audio.AddAnnotation(AudioAnnotationKinds.SampleRate, sr, NumberDataViewType.Int32);
        if (channels is int c) audio.AddAnnotation(AudioAnnotationKinds.ChannelCount, c, NumberDataViewType.Int32);
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    /// <summary>Reads one float-vector column of every row, in order.</summary>
    public static float[][] Column(IDataView data, string name)
    {
        var result = new List<float[]>();
        var column = data.Schema[name];
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var value = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getter(ref value);
            result.Add(value.DenseValues().ToArray());
        }
        return [.. result];
    }
}

/// <summary>ML.NET's SchemaShape.Create(DataViewSchema) is internal; tests reach it by reflection.</summary>
public static class Shapes
{
    private static readonly System.Reflection.MethodInfo CreateMethod = typeof(SchemaShape).GetMethod("Create",
        System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public,
        [typeof(DataViewSchema)]) ?? throw new MissingMethodException("SchemaShape.Create(DataViewSchema)");

    public static SchemaShape From(DataViewSchema schema) => (SchemaShape)CreateMethod.Invoke(null, [schema])!;
}
