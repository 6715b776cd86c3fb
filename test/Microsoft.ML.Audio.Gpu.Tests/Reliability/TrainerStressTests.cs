using System.Text.RegularExpressions;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

/// <summary>
/// The dynamic guard against TorchSharp lifetime holes around the training step (issue 28): the
/// <see cref="TrainerStress"/> rounds (data read into tensors in memory and streamed, validation, Evaluate, save and
/// load, PredictionEngine, waveform augmentation and mixup, the frozen speech embedding) run in a second process with
/// fully optimised code and a thread forcing garbage collections and finalizers throughout. The run must finish, give
/// exactly the numbers of a run without the forced collections, and leave no tensor to the finalizer.
/// </summary>
/// <remarks>Against the library before <c>TensorCopy.FromArray</c> held its intermediate tensors in a dispose scope,
/// the stressed process died in <c>THSTensor_reshape</c> (SIGSEGV) or left tensors to the finalizer; the rates are in
/// docs/reliability.md.</remarks>
[TestClass]
public sealed class TrainerStressTests
{
    // Optimised code from the first call (no tier 0 keeping locals alive to the end of a method), without the profile-
    // guided rejit that would otherwise follow.
    private static readonly Dictionary<string, string> FullyOptimised = new() { ["DOTNET_TieredCompilation"] = "0", ["DOTNET_TieredPGO"] = "0" };

    [TestMethod]
    public void Rounds_UnderForcedCollections_FinishEqualToACalmRun_AndLeaveNoTensorToTheFinalizer()
    {
        var dir = Directory.CreateTempSubdirectory("trainer-stress-");
        try
        {
            string calmPath = Path.Combine(dir.FullName, "calm.txt"), stressPath = Path.Combine(dir.FullName, "stress.txt");
            var (calmCode, calmLog) = SecondProcess.Run(FullyOptimised, TimeSpan.FromMinutes(10), TrainerStress.Command, "calm", calmPath, "rounds");
            Assert.AreEqual(0, calmCode, "the calm run failed:\n" + calmLog);
            var (stressCode, stressLog) = SecondProcess.Run(FullyOptimised, TimeSpan.FromMinutes(10), TrainerStress.Command, "stress", stressPath, "rounds");
            Console.WriteLine(calmLog + stressLog);
            Assert.AreEqual(0, stressCode, "the process died under forced garbage collections:\n" + stressLog);
            var forced = Regex.Match(stressLog, @"stress: [0-9.]+ s, ([0-9]+) forced collections");
            Assert.IsTrue(forced.Success, "the stressed run reports its collections:\n" + stressLog);
            Assert.IsGreaterThan(1000, long.Parse(forced.Groups[1].Value), "collections were forced throughout the run");
            foreach (var (name, log) in new[] { ("calm", calmLog), ("stressed", stressLog) })
            {
                var finalized = Regex.Match(log, @"tensors freed by the finalizer: (-?[0-9]+)");
                Assert.IsTrue(finalized.Success, $"the {name} run reports the tensors it left to the finalizer:\n{log}");
                Assert.AreEqual(0, long.Parse(finalized.Groups[1].Value), $"tensors the {name} run left to the finalizer");
            }

            var calm = File.ReadAllLines(calmPath);
            var stress = File.ReadAllLines(stressPath);
            Assert.IsGreaterThan(300, calm.Length, "the workload wrote its results");
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
