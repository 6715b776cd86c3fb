using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using Microsoft.ML.Audio.Gpu.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Training;

/// <summary>
/// The trainer's optimizer (<see cref="HeldScalarAdamW"/>) takes TorchSharp's AdamW steps exactly: the same weights,
/// bit for bit, after many steps, with the learning-rate schedule, AMSGrad and maximisation.
/// </summary>
[TestClass]
public sealed class HeldScalarAdamWTests
{
    private static nn.Module<Tensor, Tensor> Network() => nn.Sequential(
        ("conv", nn.Conv1d(2, 4, 3)), ("relu", nn.ReLU()), ("flatten", nn.Flatten()), ("head", nn.Linear(4 * 14, 3)));

    [TestMethod]
    [DataRow(false, false)]
    [DataRow(true, false)]
    [DataRow(false, true)]
    public void Steps_EqualTorchSharpsAdamW_BitForBit(bool amsgrad, bool maximize)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(11);
        using var ours = Network();
        using var reference = Network();
        reference.load_state_dict(ours.state_dict());
        using var mine = new HeldScalarAdamW(ours.parameters(), lr: 3e-3, weight_decay: 0.01, amsgrad: amsgrad, maximize: maximize);
        using var theirs = TorchSharpReference.AdamW(reference.parameters(), lr: 3e-3, weightDecay: 0.01, amsgrad, maximize);
        var scheduleMine = optim.lr_scheduler.CosineAnnealingLR(mine, 10);
        var scheduleTheirs = optim.lr_scheduler.CosineAnnealingLR(theirs, 10);

        var generator = new Generator(seed: 12);
        for (int step = 0; step < 40; step++)
        {
            using var stepScope = NewDisposeScope();
            var x = randn(new long[] { 8, 2, 16 }, generator: generator);
            var y = randint(0, 3, new long[] { 8 }, generator: generator);
            foreach (var (network, optimizer) in new[] { (ours, (optim.Optimizer)mine), (reference, theirs) })
            {
                optimizer.zero_grad();
                nn.functional.cross_entropy(network.call(x), y).backward();
            }
            mine.step();
            TorchSharpReference.WithoutCollections(() => theirs.step());
            if (step % 4 == 3) { scheduleMine.step(); scheduleTheirs.step(); }
        }
        foreach (var (name, value) in reference.state_dict())
            CollectionAssert.AreEqual(Compare.ToArray(value), Compare.ToArray(ours.state_dict()[name]), $"{name} after 40 steps");
    }
}
