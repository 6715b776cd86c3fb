using System.Reflection;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Tests.Layers;
using Microsoft.ML.Audio.Gpu.Transforms;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Audio.Gpu.Tests.Transforms;

/// <summary>
/// ML.NET's load signatures besides SignatureLoadModel: a transform saved inside a data pipe (the IDataTransform that
/// GetRowToRowMapper returns saves the transformer as its row mapper) loads back through SignatureLoadRowMapper, and a
/// transformer saved alone loads as an IDataTransform through SignatureLoadDataTransform; both give the fitted
/// transformer's rows. ML.NET's save and load entry points for data pipes are internal, so they are reached by name.
/// </summary>
[TestClass]
public sealed class DataPipeLoadTests
{
    private static IEnumerable<(string column, IEstimator<ITransformer> estimator)> Estimators(MLContext ml) =>
    [
        ("Spec", ml.Transforms.Audio.GpuStft("Spec", "Audio", new GpuStftOptions { FftLength = 256 })),
        ("Fused", ml.Transforms.Audio.MelSpectrogramGpu("Fused", "Audio", new MelSpectrogramOptions { FftLength = 256, MelBinCount = 20 })),
        ("Mfcc", ml.Transforms.Audio.MfccGpu("Mfcc", "Audio", new MfccOptions { FftLength = 256, MelBinCount = 20, CoefficientCount = 8 })),
        ("Audio8k", ml.Transforms.Audio.GpuResample("Audio8k", "Audio", new GpuResampleOptions { SampleRate = 8000 })),
    ];

    [TestMethod]
    public void TransformSavedInADataPipe_LoadsThroughItsRowMapper_AndGivesTheSameRows()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(3, 4000), [4000], 16000);
        foreach (var (column, estimator) in Estimators(ml))
        {
            var model = estimator.Fit(data);
            var pipe = model.GetRowToRowMapper(data.Schema); // a RowToRowMapperTransform, an IDataTransform
            var loaded = (IDataView)Internals.SaveAndLoad(ml, pipe, "Microsoft.ML.Data.IDataTransform", "Microsoft.ML.Data.SignatureLoadDataTransform", data);
            AssertSameRows(model.Transform(data), loaded, column);
        }
    }

    [TestMethod]
    public void TransformerSavedAlone_LoadsAsADataTransform_AndGivesTheSameRows()
    {
        var ml = new MLContext(1);
        var data = AudioData.Load(ml, AudioData.NoiseRows(3, 4000), [4000], 16000);
        foreach (var (column, estimator) in Estimators(ml))
        {
            var model = estimator.Fit(data);
            var loaded = (IDataView)Internals.SaveAndLoad(ml, model, "Microsoft.ML.Data.IDataTransform", "Microsoft.ML.Data.SignatureLoadDataTransform", data);
            AssertSameRows(model.Transform(data), loaded, column);
        }
    }

    private static void AssertSameRows(IDataView expected, IDataView actual, string column)
    {
        var a = AudioData.Column(expected, column);
        var b = AudioData.Column(actual, column);
        Assert.HasCount(a.Length, b, column);
        // The loaded transform maps row by row where Transform batches rows: the same computation, batched differently.
        for (int i = 0; i < a.Length; i++) Compare.RelativeToMax(b[i], a[i], Tolerances.SameComputationRel, $"{column}, row {i}");
    }

    /// <summary>ML.NET's internal repository save and load, by name.</summary>
    private static class Internals
    {
        private static Type Find(string name) => AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(name)).FirstOrDefault(t => t is not null)
            ?? throw new InvalidOperationException($"ML.NET type {name} not found");

        private static MethodInfo Static(Type type, string name, int parameters) => type.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Single(m => m.Name == name && m.GetParameters().Length == parameters && m.GetParameters()[^1].ParameterType != typeof(BinaryReader)
                && (name != "LoadModel" || m.GetParameters()[3].ParameterType == typeof(string)));

        public static object SaveAndLoad(MLContext ml, object model, string resultType, string signatureType, IDataView input)
        {
            var env = (IHostEnvironment)ml;
            using var stream = new MemoryStream();
            var writerType = Find("Microsoft.ML.RepositoryWriter");
            var writer = (IDisposable)Static(writerType, "CreateNew", 3).Invoke(null, [stream, env, false])!;
            using (writer)
            {
                Static(Find("Microsoft.ML.ModelSaveContext"), "SaveModel", 3).MakeGenericMethod(typeof(object)).Invoke(null, [writer, model, "Model"]);
                writerType.GetMethod("Commit", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)!.Invoke(writer, null);
            }
            stream.Position = 0;
            using var reader = (IDisposable)Static(Find("Microsoft.ML.RepositoryReader"), "Open", 3).Invoke(null, [stream, env, false])!;
            var load = Static(Find("Microsoft.ML.ModelLoadContext"), "LoadModel", 5).MakeGenericMethod(Find(resultType), Find(signatureType));
            object?[] args = [env, null, reader, "Model", new object[] { input }];
            load.Invoke(null, args);
            return args[1] ?? throw new InvalidOperationException("nothing loaded");
        }
    }
}
