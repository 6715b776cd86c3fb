using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Mono.Cecil;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// Static guard against the TorchSharp Scalar-lifetime crash: no code of the library, the sample, the benchmarks or
/// these tests hands libtorch a Scalar that a garbage collection can free mid-call (see
/// <see cref="ScalarLifetimeAnalyzer"/>), and the check itself finds each known way of doing so.
/// </summary>
[TestClass]
public sealed class ScalarLifetimeTests
{
    private static string Dir => Path.GetDirectoryName(typeof(ScalarLifetimeTests).Assembly.Location)!;

    /// <summary>The benchmark app, built beside the tests (the test project references it for this check).</summary>
    private static string Benchmarks => Path.GetFullPath(Path.Combine(Dir, "..", "..", "..", "..", "Microsoft.ML.Audio.Gpu.Benchmarks",
        "bin", Path.GetFileName(Path.GetDirectoryName(Dir))!, Path.GetFileName(Dir), "Microsoft.ML.Audio.Gpu.Benchmarks.dll"));

    [TestMethod]
    public void LibrarySampleAndBenchmarks_HoldEveryScalar()
    {
        Assert.IsTrue(File.Exists(Benchmarks), $"the benchmark app is not built at {Benchmarks} (build the solution: dotnet test Kapre.MLNet.sln)");
        var findings = new ScalarLifetimeAnalyzer().Check(
            Path.Combine(Dir, "Microsoft.ML.Audio.Gpu.Layers.dll"),
            Path.Combine(Dir, "Microsoft.ML.Audio.Gpu.IO.dll"),
            Path.Combine(Dir, "Microsoft.ML.Audio.Gpu.dll"),
            Path.Combine(Dir, "AudioClassification.dll"),
            Benchmarks,
            RoomTests.LayersOnly);
        Assert.AreEqual(0, findings.Count, $"{findings.Count} unheld Scalars:\n" + string.Join("\n", findings));
    }

    [TestMethod]
    public void LibrarySampleAndBenchmarks_ChainNoTensorTemporaryOutsideADisposeScope()
    {
        var findings = new TensorTemporaryAnalyzer().Check(
            Path.Combine(Dir, "Microsoft.ML.Audio.Gpu.Layers.dll"),
            Path.Combine(Dir, "Microsoft.ML.Audio.Gpu.IO.dll"),
            Path.Combine(Dir, "Microsoft.ML.Audio.Gpu.dll"),
            Path.Combine(Dir, "AudioClassification.dll"),
            Benchmarks,
            RoomTests.LayersOnly);
        Assert.AreEqual(0, findings.Count, $"{findings.Count} unheld Tensor temporaries:\n" + string.Join("\n", findings));
    }

    [TestMethod]
    public void Tests_HoldEveryScalar()
    {
        var findings = new ScalarLifetimeAnalyzer().Check(typeof(ScalarLifetimeTests).Assembly.Location)
            .Where(f => !f.Method.Contains(nameof(KnownUnsafe), StringComparison.Ordinal) &&
                        !f.Method.Contains(nameof(TorchSharpReference), StringComparison.Ordinal)).ToList();
        Assert.AreEqual(0, findings.Count, $"{findings.Count} unheld Scalars:\n" + string.Join("\n", findings));
    }

    [TestMethod]
    [DataRow(nameof(KnownUnsafe.ImplicitDouble))]
    [DataRow(nameof(KnownUnsafe.ImplicitInt))]
    [DataRow(nameof(KnownUnsafe.HiddenAlphaOnHeldScalar))]
    [DataRow(nameof(KnownUnsafe.HiddenAlphaOnTensor))]
    [DataRow(nameof(KnownUnsafe.TensorPlusTensor))]
    [DataRow(nameof(KnownUnsafe.TensorTimesDouble))]
    [DataRow(nameof(KnownUnsafe.Square))]
    [DataRow(nameof(KnownUnsafe.ScalarInALocalNotDisposed))]
    [DataRow(nameof(KnownUnsafe.TorchSharpBatchNorm))]
    [DataRow(nameof(KnownUnsafe.TorchSharpAdamW))]
    [DataRow(nameof(KnownUnsafe.TorchSharpAdam))]
    public void Check_FindsEachKnownUnsafePattern(string method)
    {
        Assert.AreNotEqual(0, Findings(typeof(KnownUnsafe), method).Count, $"{method} was not flagged");
    }

    [TestMethod]
    [DataRow(nameof(KnownSafe.UsingLocal))]
    [DataRow(nameof(KnownSafe.StaticField))]
    [DataRow(nameof(KnownSafe.ExplicitAlpha))]
    [DataRow(nameof(KnownSafe.TensorOperators))]
    [DataRow(nameof(KnownSafe.ProjectBatchNorm))]
    public void Check_AcceptsHeldScalars(string method)
    {
        var findings = Findings(typeof(KnownSafe), method);
        Assert.AreEqual(0, findings.Count, string.Join("\n", findings));
    }

    [TestMethod]
    public void TensorCheck_FindsChainedTemporaries_AndAcceptsScopedOnes()
    {
        Assert.AreNotEqual(0, TensorFindings(nameof(TensorTemporaries.ChainOutsideAScope)).Count, "a chain outside a scope");
        Assert.AreNotEqual(0, TensorFindings(nameof(TensorTemporaries.TemporaryArgument)).Count, "a temporary passed as an argument");
        Assert.AreNotEqual(0, TensorFindings(nameof(TensorTemporaries.LocalLastReadByANativeCall)).Count, "a plain local read last by a native call");
        foreach (var safe in new[] { nameof(TensorTemporaries.ChainInAScope), nameof(TensorTemporaries.InPlaceChain), nameof(TensorTemporaries.UsingLocals) })
        {
            var findings = TensorFindings(safe);
            Assert.AreEqual(0, findings.Count, $"{safe}: " + string.Join("\n", findings));
        }
    }

    /// <summary>Issue 28's hole and its class: what a garbage collection can free during a native call, or what only the
    /// finalizer frees.</summary>
    [TestMethod]
    [DataRow(nameof(TensorTemporaries.ReplacedInItsLocal))]
    [DataRow(nameof(TensorTemporaries.DroppedTemporary))]
    [DataRow(nameof(TensorTemporaries.QueriedTemporary))]
    [DataRow(nameof(TensorTemporaries.PassedToAMethodThatDoesNotKeepIt))]
    [DataRow(nameof(TensorTemporaries.LocalNeverDisposedInALoop))]
    [DataRow(nameof(TensorTemporaries.DroppedGenerator))]
    [DataRow(nameof(TensorTemporaries.GeneratorArgument))]
    [DataRow(nameof(TensorTemporaries.TorchSharpConv2dOutsideAScope))]
    [DataRow(nameof(TensorTemporaries.TorchSharpConv2dInALambdaOutsideAScope))]
    public void TensorCheck_FindsEachWayToLeaveATensorToTheFinalizer(string method)
    {
        Assert.AreNotEqual(0, TensorFindings(method).Count, $"{method} was not flagged");
    }

    [TestMethod]
    [DataRow(nameof(TensorTemporaries.HandedToALayerThatKeepsIt))]
    [DataRow(nameof(TensorTemporaries.CheckedAndReturned))]
    [DataRow(nameof(TensorTemporaries.GeneratorDisposedAtOnce))]
    [DataRow(nameof(TensorTemporaries.HeldGenerator))]
    [DataRow(nameof(TensorTemporaries.TorchSharpConv2dThroughLifetimes))]
    [DataRow(nameof(TensorTemporaries.LocalDisposedAfterALoop))]
    public void TensorCheck_AcceptsOwnedAndScopedTensors(string method)
    {
        var findings = TensorFindings(method);
        Assert.AreEqual(0, findings.Count, $"{method}: " + string.Join("\n", findings));
    }

    private static List<ScalarLifetimeAnalyzer.Finding> TensorFindings(string method)
    {
        var path = typeof(TensorTemporaries).Assembly.Location;
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Dir);
        using var assembly = AssemblyDefinition.ReadAssembly(path, new ReaderParameters { AssemblyResolver = resolver });
        var type = assembly.MainModule.GetType(typeof(TensorTemporaries).FullName!.Replace('+', '/'));
        var definition = type.Methods.Single(m => m.Name == method);
        // With the bodies of its lambdas (compiled into a nested class as <Method>b__N_M).
        var lambdas = type.NestedTypes.SelectMany(t => t.Methods).Where(m => m.Name.StartsWith($"<{method}>", StringComparison.Ordinal));
        var analyzer = new TensorTemporaryAnalyzer();
        return [.. analyzer.CheckMethod(definition), .. lambdas.SelectMany(analyzer.CheckMethod)];
    }

    /// <summary>Tensor temporaries held and not; never called, only read by the check.</summary>
    internal static class TensorTemporaries
    {
        public static float[] ChainOutsideAScope(Tensor w)
        {
            using var cpu = w.detach().cpu().contiguous();
            return cpu.data<float>().ToArray();
        }

        public static Tensor TemporaryArgument(Tensor a, Tensor b) => matmul(a, b.t());

        public static Tensor LocalLastReadByANativeCall(Tensor w)
        {
            var detached = w.detach();
            return detached.contiguous();
        }

        public static Tensor ChainInAScope(Tensor w)
        {
            using var scope = NewDisposeScope();
            return w.detach().cpu().contiguous().MoveToOuterDisposeScope();
        }

        public static Tensor InPlaceChain(Tensor w) => w.mul_(HeldScalars.Two).add_(w, HeldScalars.One);

        public static Tensor UsingLocals(Tensor w)
        {
            using var detached = w.detach();
            return detached.contiguous();
        }

        // TensorCopy.FromArray before issue 28's fix: the array's wrapper dies at the reshape that reads it.
        public static Tensor ReplacedInItsLocal(float[] data, long[] shape)
        {
            var t = from_array(data);
            t = t.reshape(shape);
            return t;
        }

        public static void DroppedTemporary(Tensor w) => w.detach();

        public static long QueriedTemporary(Tensor w) => w.detach().shape[0];

        public static float[] PassedToAMethodThatDoesNotKeepIt(Tensor w) => Values(w.detach());

        private static float[] Values(Tensor t) => t.data<float>().ToArray();

        public static void LocalNeverDisposedInALoop(Tensor w)
        {
            for (int i = 0; i < 2; i++)
            {
                var d = w.detach();
                d.mul_(HeldScalars.Two);
            }
        }

        public static void DroppedGenerator() => random.manual_seed(1);

        public static Tensor GeneratorArgument() => rand(new long[] { 2 }, generator: new Generator(seed: 1));

        // TorchSharp's Conv2d computes its bias bound from weight[0, 0] and drops it.
        public static nn.Module<Tensor, Tensor> TorchSharpConv2dOutsideAScope() => nn.Conv2d(1, 2, 3);

        public static nn.Module<Tensor, Tensor> HandedToALayerThatKeepsIt() => AudioLayers.ApplyFilterbank(zeros(5, 2));

        public static Tensor CheckedAndReturned(Tensor w) => KeepsArgument(w.detach());

        private static Tensor KeepsArgument(Tensor t)
        {
            ArgumentNullException.ThrowIfNull(t);
            return t;
        }

        public static void GeneratorDisposedAtOnce() => random.manual_seed(1).Dispose();

        public static Tensor HeldGenerator()
        {
            using var generator = new Generator(seed: 1);
            return rand(new long[] { 2 }, generator: generator);
        }

        public static nn.Module<Tensor, Tensor> TorchSharpConv2dThroughLifetimes() => Lifetimes.Layer(() => nn.Conv2d(1, 2, 3));

        public static nn.Module<Tensor, Tensor> TorchSharpConv2dInALambdaOutsideAScope() => Make(() => nn.Conv2d(1, 2, 3));

        private static T Make<T>(Func<T> make) => make();

        public static void LocalDisposedAfterALoop(Tensor w)
        {
            var d = w.detach();
            for (int i = 0; i < 2; i++) d.mul_(HeldScalars.Two);
            d.Dispose();
        }
    }

    private static List<ScalarLifetimeAnalyzer.Finding> Findings(Type type, string method)
    {
        var path = type.Assembly.Location;
        var resolver = new DefaultAssemblyResolver();
        resolver.AddSearchDirectory(Dir);
        using var assembly = AssemblyDefinition.ReadAssembly(path, new ReaderParameters { AssemblyResolver = resolver });
        var definition = assembly.MainModule.GetType(type.FullName!.Replace('+', '/')).Methods.Single(m => m.Name == method);
        return new ScalarLifetimeAnalyzer().CheckMethod(definition).ToList();
    }

    /// <summary>Each method hands libtorch an unheld Scalar in one known way; never called, only read by the check.</summary>
    internal static class KnownUnsafe
    {
        public static Tensor ImplicitDouble(Tensor t) => t.mul_(0.5);
        public static Tensor ImplicitInt(Tensor t) => t.add_(1, HeldScalars.One);
        public static Tensor HiddenAlphaOnHeldScalar(Tensor t, Scalar s) => t.add_(s);
        public static Tensor HiddenAlphaOnTensor(Tensor t, Tensor u) => t.add_(u);
        public static Tensor TensorPlusTensor(Tensor t, Tensor u) => t + u;
        public static Tensor TensorTimesDouble(Tensor t) => t * 0.5;
        public static Tensor Square(Tensor t) => t.square();

        public static Tensor ScalarInALocalNotDisposed(Tensor t)
        {
            var s = 0.5.ToScalar();
            return t.mul(s);
        }

        public static nn.Module<Tensor, Tensor> TorchSharpBatchNorm() => nn.BatchNorm2d(4);
        public static optim.Optimizer TorchSharpAdamW(nn.Module m) => optim.AdamW(m.parameters());
        public static optim.Optimizer TorchSharpAdam(nn.Module m) => optim.Adam(m.parameters());
    }

    /// <summary>Each method holds its Scalars; never called, only read by the check.</summary>
    internal static class KnownSafe
    {
        private static readonly Scalar Half = 0.5.ToScalar();

        public static Tensor UsingLocal(Tensor t, double v)
        {
            using var s = v.ToScalar();
            return t.mul(s).add(s, HeldScalars.One);
        }

        public static Tensor StaticField(Tensor t) => t.mul_(Half);
        public static Tensor ExplicitAlpha(Tensor t, Tensor u) => t.add_(u, HeldScalars.One).sub_(u);
        public static Tensor TensorOperators(Tensor t, Tensor u) => (t - u) * u / t;
        public static nn.Module<Tensor, Tensor> ProjectBatchNorm() => AudioLayers.BatchNorm(4);
    }
}
