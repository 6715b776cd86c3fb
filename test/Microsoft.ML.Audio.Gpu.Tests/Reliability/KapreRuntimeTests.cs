using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// The library leaves its host alone (issue 30): a program that uses it (a mel pipeline, one training epoch, a
/// single-row prediction) ends with the C library's environment exactly as it started and libtorch's NNPACK setting as
/// it was, unless it opted in with <c>KapreRuntime.Configure</c>, and then it gets exactly what it asked for. Each runs
/// in a fresh process (<see cref="HostCheck"/>): the settings are the whole process's.
/// </summary>
[TestClass]
public sealed class KapreRuntimeTests
{
    [TestMethod]
    public void AProgramUsingTheLibrary_EndsWithItsEnvironmentAndNnpackAsTheyWere()
    {
        var (lines, log) = Check("default");
        CollectionAssert.AreEqual(new[] { "nnpack on" }, lines, "what the library changed in its host:\n" + log);
    }

    [TestMethod]
    public void AProgramThatOptsIn_GetsTheOneDnnLimit_NnpackOff_AndNoNnpackWarning()
    {
        var (lines, log) = Check("opt-in");
        CollectionAssert.AreEqual(new[] { "added ONEDNN_MAX_CPU_ISA=AVX2", "nnpack off" }, lines, "what the opted-in program changed:\n" + log);
        // Off, libtorch no longer asks for NNPACK at the single-row convolutions, so it never logs that it cannot start.
        Assert.DoesNotContain("Could not initialize NNPACK", log, "libtorch's log of the opted-in process");
        StringAssert.Contains(log, "glibc malloc keeps freed CPU tensor memory", "Configure reports the allocator setting");
    }

    private static (string[] lines, string log) Check(string mode)
    {
        var dir = Directory.CreateTempSubdirectory("host-check-");
        try
        {
            string output = Path.Combine(dir.FullName, "host.txt");
            var (code, log) = SecondProcess.Run(new Dictionary<string, string>(), TimeSpan.FromMinutes(3), HostCheck.Command, output, mode);
            Assert.AreEqual(0, code, log);
            return (File.ReadAllLines(output), log);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
