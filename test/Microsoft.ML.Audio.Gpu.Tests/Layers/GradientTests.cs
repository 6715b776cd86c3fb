using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

[TestClass]
public sealed class GradientTests
{
    [TestMethod]
    public void TrainableMelFilterbank_ReceivesGradient_AndLearns()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(1);
        using var melspec = AudioLayers.MelSpectrogram(16000, n_fft: 256, hop_length: 128, n_mels: 16, trainable_mel: true, to_db: true);
        var fb = melspec.mel.Filterbank;
        Assert.IsTrue(fb.requires_grad, "a trainable filterbank is a parameter");
        Assert.AreEqual(1, melspec.parameters().Count(), "the filterbank is the only parameter");
        var before = Compare.ToArray(fb);

        using var tenth = 0.1.ToScalar();
        var x = randn(4, 4000, generator: new Generator(seed: 2)).mul(tenth);
        var target = zeros(4, 16, 32);
        using var optimizer = new Microsoft.ML.Audio.Gpu.Training.HeldScalarAdamW(melspec.parameters(), lr: 1e-3, weight_decay: 0);
        double firstLoss = 0, lastLoss = 0;
        for (int step = 0; step < 20; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(melspec.call(x), target);
            loss.backward();
            if (step == 0)
            {
                Assert.IsNotNull(fb.grad, "no gradient reached the filterbank");
                Assert.IsGreaterThan(0.0, fb.grad.abs().sum().item<float>(), "the filterbank's gradient is all zeros");
                firstLoss = loss.item<float>();
            }
            lastLoss = loss.item<float>();
            optimizer.step();
        }
        var after = Compare.ToArray(melspec.mel.Filterbank);
        Assert.IsFalse(before.SequenceEqual(after), "training did not change the filterbank");
        Assert.IsLessThan(firstLoss, lastLoss, $"loss did not fall: {firstLoss} -> {lastLoss}");
    }

    [TestMethod]
    public void FixedLayers_PassGradientToTheWaveform_AndHaveNoParameters()
    {
        using var scope = NewDisposeScope();
        using var melspec = AudioLayers.MelSpectrogram(16000, n_fft: 256, hop_length: 64, n_mels: 20, to_db: true);
        Assert.AreEqual(0, melspec.parameters().Count(), "a fixed front end has no parameters");
        Assert.AreEqual(2, melspec.buffers().Count(), "window and filterbank are buffers");
        using var tenth = 0.1.ToScalar();
        var x = randn(2, 2000, generator: new Generator(seed: 4)).mul(tenth).requires_grad_();
        melspec.call(x).sum().backward();
        Assert.IsNotNull(x.grad);
        Assert.IsGreaterThan(0.0, x.grad.abs().sum().item<float>(), "no gradient reached the waveform");
    }
}
