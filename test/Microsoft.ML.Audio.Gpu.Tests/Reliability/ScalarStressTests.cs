using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// The dynamic guard against the TorchSharp Scalar-lifetime crash: the <see cref="ScalarStress"/> workload (training
/// with and without the front end, every layer forward and backward, Griffin-Lim, every transform) runs in a second
/// process with fully optimised code and a thread forcing garbage collections and finalizers throughout, and must
/// finish and give exactly the numbers of a run without the forced collections.
/// </summary>
/// <remarks>Against the library as it was before the fix (TorchSharp's BatchNorm2d and AdamW, one-argument
/// <c>add</c>/<c>square</c>) the stressed process aborted within its first training run in each of three tries:
/// "Unknown scalar type", "alpha must not be a floating point number", <c>Scalar::toFloat</c>.</remarks>
[TestClass]
public sealed class ScalarStressTests
{
    private static readonly Dictionary<string, string> FullyOptimised = new() { ["DOTNET_TieredCompilation"] = "0" };

    [TestMethod]
    public void Workload_UnderForcedCollections_FinishesAndEqualsACalmRun()
    {
        var dir = Directory.CreateTempSubdirectory("scalar-stress-");
        try
        {
            string calmPath = Path.Combine(dir.FullName, "calm.txt"), stressPath = Path.Combine(dir.FullName, "stress.txt");
            var (calmCode, calmLog) = SecondProcess.Run(FullyOptimised, TimeSpan.FromMinutes(5), ScalarStress.Command, "calm", calmPath);
            Assert.AreEqual(0, calmCode, "the calm run failed:\n" + calmLog);
            var (stressCode, stressLog) = SecondProcess.Run(FullyOptimised, TimeSpan.FromMinutes(5), ScalarStress.Command, "stress", stressPath);
            Console.WriteLine(calmLog + stressLog);
            Assert.AreEqual(0, stressCode, "the process died under forced garbage collections:\n" + stressLog);
            var forced = System.Text.RegularExpressions.Regex.Match(stressLog, @"stress: [0-9.]+ s, ([0-9]+) forced collections");
            Assert.IsTrue(forced.Success, "the stressed run reports its collections:\n" + stressLog);
            Assert.IsGreaterThan(1000, long.Parse(forced.Groups[1].Value), "collections were forced throughout the run");

            var calm = File.ReadAllLines(calmPath);
            var stress = File.ReadAllLines(stressPath);
            Assert.IsGreaterThan(600, calm.Length, "the workload wrote its results");
            Assert.AreEqual(calm.Length, stress.Length, "both runs wrote the same number of results");
            for (int i = 0; i < calm.Length; i++)
                Assert.AreEqual(calm[i], stress[i], $"result {i} differs under forced collections");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
