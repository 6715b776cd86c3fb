using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>The Kaiser, KBD and Vorbis windows as STFT windows: the layer uses exactly the window functions.</summary>
[TestClass]
public sealed class StftWindowTypeTests
{
    [TestMethod]
    [DataRow(WindowType.Kaiser)]
    [DataRow(WindowType.KaiserBesselDerived)]
    [DataRow(WindowType.Vorbis)]
    public void Stft_WithWindowType_EqualsTorchStftWithThatWindow(WindowType type)
    {
        using var scope = NewDisposeScope();
        var window = type switch
        {
            WindowType.Kaiser => Functional.kaiser_window(256, periodic: true, beta: 12),
            WindowType.KaiserBesselDerived => Functional.kbd_window(256, 4 * Math.PI),
            _ => Functional.vorbis_window(256),
        };
        using var layer = AudioLayers.Stft(n_fft: 256, hop_length: 64, window: type, output: SpectrumType.Power);
        CollectionAssert.AreEqual(Compare.ToArray(window), Compare.ToArray(layer.Window), "the layer's window is the function's");
        var x = randn(2, 3000, generator: new TorchSharp.torch.Generator(seed: 9));
        var expected = Functional.power(stft(x, 256, 64, 256, window, center: true, pad_mode: PaddingModes.Reflect, return_complex: true));
        Compare.RelativeToMax(Compare.ToArray(layer.call(x)), Compare.ToArray(expected), Tolerances.SameComputationRel, type.ToString());
    }

    [TestMethod]
    public void KaiserBesselDerived_RejectsAnOddWindowLength()
    {
        var e = Assert.Throws<ArgumentException>(() => AudioLayers.Stft(n_fft: 256, win_length: 255, window: WindowType.KaiserBesselDerived));
        Assert.AreEqual("window_length", e.ParamName);
    }
}
