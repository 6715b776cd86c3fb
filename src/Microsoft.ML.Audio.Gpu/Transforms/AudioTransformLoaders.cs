using Microsoft.ML.Audio.Gpu.Training;
using Microsoft.ML.Model;

// ML.NET's two other load signatures, for every transformer of this package. A transformer's rows can also be saved
// inside a data pipe (the IDataTransform that GetRowToRowMapper returns, a RowToRowMapperTransform, saves its mapper as
// the transformer's own model); loading that back asks for SignatureLoadRowMapper, and a saved IDataTransform for
// SignatureLoadDataTransform, under the transformer's loader signature.
[assembly: LoadableClass(typeof(IRowMapper), typeof(AudioTransformLoaders), null, typeof(SignatureLoadRowMapper), "Audio transform row mapper",
    GpuStftTransformer.LoaderSignature, GpuMelTransformer.LoaderSignature, GpuDecibelTransformer.LoaderSignature,
    MelSpectrogramGpuTransformer.LoaderSignature, MfccGpuTransformer.LoaderSignature, GpuResampleTransformer.LoaderSignature,
    SpeechEmbeddingTransformer.LoaderSignature, LoadAudioTransformer.LoaderSignature, AudioClassificationTransformer.LoaderSignature)]
[assembly: LoadableClass(typeof(IDataTransform), typeof(AudioTransformLoaders), null, typeof(SignatureLoadDataTransform), "Audio data transform",
    GpuStftTransformer.LoaderSignature, GpuMelTransformer.LoaderSignature, GpuDecibelTransformer.LoaderSignature,
    MelSpectrogramGpuTransformer.LoaderSignature, MfccGpuTransformer.LoaderSignature, GpuResampleTransformer.LoaderSignature,
    SpeechEmbeddingTransformer.LoaderSignature, LoadAudioTransformer.LoaderSignature, AudioClassificationTransformer.LoaderSignature)]

namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>A transformer of this package that maps each row on its own (its row mapper is what PredictionEngine runs).</summary>
internal interface IRowMapperSource
{
    /// <summary>The single-row mapper for <paramref name="inputSchema"/>.</summary>
    IRowMapper MakeRowMapper(DataViewSchema inputSchema);
}

/// <summary>
/// Loaders for <see cref="SignatureLoadRowMapper"/> and <see cref="SignatureLoadDataTransform"/>: the transformer is read
/// through its own <see cref="SignatureLoadModel"/> entry (the same bytes), then wrapped.
/// </summary>
internal static class AudioTransformLoaders
{
    /// <summary>The row mapper of the transformer saved at <paramref name="ctx"/>.</summary>
    public static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(inputSchema, nameof(inputSchema));
        return Load(env, ctx).MakeRowMapper(inputSchema);
    }

    /// <summary>The transformer saved at <paramref name="ctx"/> applied to <paramref name="input"/>, row by row.</summary>
    public static IDataTransform Create(IHostEnvironment env, ModelLoadContext ctx, IDataView input)
    {
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(input, nameof(input));
        return Wrap(env, input, Load(env, ctx));
    }

    /// <summary>The data transform of a row-mapping transformer: ML.NET's one-to-one wrapper around its row mapper.</summary>
    public static RowToRowMapperTransform Wrap(IHostEnvironment env, IDataView input, IRowMapperSource transformer)
        => new(env, input, transformer.MakeRowMapper(input.Schema), transformer.MakeRowMapper);

    private static IRowMapperSource Load(IHostEnvironment env, ModelLoadContext ctx)
    {
        env.CheckValue(ctx, nameof(ctx));
        string signature = ModelHeader.GetLoaderSig(ref ctx.Header);
        if (!ComponentCatalog.TryCreateInstance<ITransformer, SignatureLoadModel>(env, out var transformer, signature, "", ctx)
            || transformer is not IRowMapperSource source)
            throw env.ExceptDecode($"The model's loader signature '{signature}' is not a transformer of this package that maps rows.");
        return source;
    }
}
