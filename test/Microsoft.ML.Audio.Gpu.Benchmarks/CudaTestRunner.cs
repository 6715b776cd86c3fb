// The test project's CUDA-only tests (test category "Cuda", test/Microsoft.ML.Audio.Gpu.Tests/Cuda/), run where there is
// a GPU but no .NET SDK to run `dotnet test` (build/device-check.sh):
//
//   dotnet Microsoft.ML.Audio.Gpu.Benchmarks.dll --cuda-tests [--gpu 0] [--tests PATH/Microsoft.ML.Audio.Gpu.Tests.dll] [--out FILE]
//
// The test assembly (and MSTest's framework assembly next to it) is loaded from --tests, by default from this app's
// folder, where build/gpu-bundle.sh puts them; its other dependencies are this app's. Each test class with a method of
// that category runs as MSTest would run it: a new instance, [TestInitialize], the method, [TestCleanup]. An assertion
// failure or any exception fails the test; Assert.Inconclusive (no CUDA device) counts as skipped. Exit code 1 when a
// test failed, 2 when none passed.
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;

internal static class CudaTestRunner
{
    private const string Category = "Cuda";

    public static int Run(string[] args)
    {
        string testsPath = Path.Combine(AppContext.BaseDirectory, "Microsoft.ML.Audio.Gpu.Tests.dll");
        string? outPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--tests") testsPath = args[++i];
            else if (args[i] == "--out") outPath = args[++i];
            else if (args[i] == "--gpu") Environment.SetEnvironmentVariable("KAPRE_CUDA_DEVICE", args[++i]);
        }
        if (!File.Exists(testsPath))
        {
            Console.Error.WriteLine($"--cuda-tests: no test assembly at {testsPath} (build/gpu-bundle.sh puts it next to this app).");
            return 2;
        }
        var assembly = Assembly.LoadFrom(Path.GetFullPath(testsPath));
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = [.. e.Types.OfType<Type>()]; } // types of assemblies not bundled

        var report = new StringBuilder();
        report.AppendLine($"CUDA tests of {Path.GetFileName(testsPath)}, CUDA device {Environment.GetEnvironmentVariable("KAPRE_CUDA_DEVICE") ?? "0"}, " +
            $"torch.cuda.is_available() = {TorchSharp.torch.cuda.is_available()}");
        report.AppendLine();
        report.AppendLine("| test | outcome | seconds | message |");
        report.AppendLine("| --- | --- | ---: | --- |");
        int passed = 0, failed = 0, skipped = 0;
        foreach (var type in types.OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var tests = Methods(type)
                .Where(m => Attributes(m).Any(a => a.GetType().Name == "TestCategoryAttribute" && Categories(a).Contains(Category)))
                .OrderBy(m => m.MetadataToken).ToArray();
            if (tests.Length == 0) continue;
            var initialize = Marked(type, "TestInitializeAttribute");
            var cleanup = Marked(type, "TestCleanupAttribute");
            foreach (var test in tests)
            {
                var watch = Stopwatch.StartNew();
                string outcome, message = "";
                try
                {
                    object instance = Activator.CreateInstance(type)!;
                    try
                    {
                        initialize?.Invoke(instance, null);
                        test.Invoke(instance, null);
                    }
                    finally
                    {
                        cleanup?.Invoke(instance, null);
                    }
                    outcome = "passed";
                    passed++;
                }
                catch (TargetInvocationException e) when (e.InnerException?.GetType().Name == "AssertInconclusiveException")
                {
                    outcome = "skipped";
                    message = e.InnerException.Message;
                    skipped++;
                }
                catch (Exception e)
                {
                    var inner = e is TargetInvocationException { InnerException: { } i } ? i : e;
                    outcome = "FAILED";
                    message = $"{inner.GetType().Name}: {inner.Message}";
                    failed++;
                }
                string line = $"| {type.Name}.{test.Name} | {outcome} | {watch.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} | {message.Split('\n')[0].Replace("|", "\\|")} |";
                Console.WriteLine(line);
                report.AppendLine(line);
            }
        }
        report.AppendLine();
        report.AppendLine($"{passed} passed, {failed} failed, {skipped} skipped");
        Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped");
        if (outPath is not null) File.WriteAllText(outPath, report.ToString());
        return failed > 0 ? 1 : passed == 0 ? 2 : 0;
    }

    private static string[] Categories(Attribute attribute)
        => attribute.GetType().GetProperty("TestCategories")?.GetValue(attribute) is IEnumerable<string> names ? [.. names] : [];

    private static MethodInfo? Marked(Type type, string attribute)
        => Methods(type).FirstOrDefault(m => Attributes(m).Any(a => a.GetType().Name == attribute));

    private static MethodInfo[] Methods(Type type)
    {
        try { return type.GetMethods(BindingFlags.Public | BindingFlags.Instance); }
        catch (Exception e) when (e is TypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException) { return []; }
    }

    /// <summary>A method's attributes; none when they cannot be made here (an attribute naming a type of an assembly the
    /// bundle leaves out, as other test classes' async methods do).</summary>
    private static Attribute[] Attributes(MethodInfo method)
    {
        try { return [.. method.GetCustomAttributes()]; }
        catch (Exception e) when (e is TypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException) { return []; }
    }
}
