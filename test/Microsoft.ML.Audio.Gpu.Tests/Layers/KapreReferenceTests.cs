using Microsoft.ML.Audio.Gpu.Layers;
using Microsoft.ML.Audio.Gpu.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>
/// Kapre's own reference spectrograms of real speech (Fixtures/kapre, MIT licence, Keunwoo Choi et al.): 44.1 kHz,
/// n_fft 1024, hop 128, periodic Hann, Keras "same" padding; mel with Slaney scale and Slaney normalisation.
/// </summary>
[TestClass]
public sealed class KapreReferenceTests
{
    private static Tensor Speech() => tensor(ReferenceFixtures.File_("kapre/speech.npy").Data);

    private static Stft KapreStft() => AudioLayers.Stft(n_fft: 1024, win_length: 1024, hop_length: 128, window: WindowType.Hann,
        padding: FramePadding.Same, output: SpectrumType.Power);

    [TestMethod]
    public void PowerSpectrogram_ReproducesKapre()
    {
        var expected = ReferenceFixtures.File_("kapre/test_audio_stft_g0.npy");
        using var scope = NewDisposeScope();
        using var stft = KapreStft();
        var rel = Compare.RelativeToMax(stft.call(Speech()), expected, Tolerances.StftRel, "Kapre power spectrogram");
        Console.WriteLine($"Kapre STFT: max |diff| = {rel:G3} of the maximum");
    }

    [TestMethod]
    public void MelSpectrogram_ReproducesKapre()
    {
        var expected = ReferenceFixtures.File_("kapre/test_audio_mel_g0.npy");
        using var scope = NewDisposeScope();
        using var stft = KapreStft();
        using var mel = AudioLayers.MelFilterbank(44100, n_fft: 1024, n_mels: 80, f_min: 0, f_max: 22050,
            mel_scale: MelScale.Slaney, norm: MelNorm.Slaney);
        var rel = Compare.RelativeToMax(mel.call(stft.call(Speech())), expected, Tolerances.KapreMelRel, "Kapre mel spectrogram");
        Console.WriteLine($"Kapre mel: max |diff| = {rel:G3} of the maximum");
    }
}
