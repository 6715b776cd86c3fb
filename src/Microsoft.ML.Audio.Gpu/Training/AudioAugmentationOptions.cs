namespace Microsoft.ML.Audio.Gpu.Training;

/// <summary>
/// Waveform augmentation while training (<see cref="AudioClassificationOptions.AudioAugmentation"/>): each enabled layer
/// runs on the device on every training batch, with the settings of its <c>AudioLayers</c> factory, and is not part of
/// the trained model (inference sees clean audio). Needs raw audio features: a <see cref="AudioClassificationOptions.FrontEnd"/>,
/// or the speech-embedding backbone with <see cref="AudioClassificationOptions.FineTuneBackbone"/>.
/// </summary>
public sealed class AudioAugmentationOptions
{
    /// <summary>Background noise at a random SNR (<c>AudioLayers.BackgroundNoise</c>: half the clips, 3 to 30 dB), from
    /// <see cref="NoiseClips"/> or, without them, pink noise. Default true.</summary>
    public bool BackgroundNoise { get; set; } = true;

    /// <summary>Recordings of background noise (mono, at the feature column's sample rate), drawn at random offsets;
    /// shorter clips are looped to the longest. Null: generated pink noise. Default null.</summary>
    public IReadOnlyList<float[]>? NoiseClips { get; set; }

    /// <summary>Speed perturbation by 0.9, 1.0 or 1.1 (<c>AudioLayers.SpeedPerturbation</c>, Kaldi's convention: tempo
    /// and pitch together), through the resampler. Default true.</summary>
    public bool SpeedPerturbation { get; set; } = true;

    /// <summary>Reverberation with a synthetic room (<c>AudioLayers.Reverberation</c>: half the clips, RT60 from 0.2 to
    /// 0.8 s). Default true.</summary>
    public bool Reverberation { get; set; } = true;

    internal AudioAugmentationOptions Clone() => (AudioAugmentationOptions)MemberwiseClone();

    internal void Validate()
    {
        if (NoiseClips is null) return;
        if (NoiseClips.Count == 0) throw new ArgumentException("NoiseClips holds no clips; set it to null for generated noise.", nameof(NoiseClips));
        for (int i = 0; i < NoiseClips.Count; i++)
        {
            if (NoiseClips[i] is not { Length: > 0 } clip) throw new ArgumentException($"NoiseClips[{i}] is empty.", nameof(NoiseClips));
            if (clip.Any(v => !float.IsFinite(v))) throw new ArgumentException($"NoiseClips[{i}] holds a value that is not finite.", nameof(NoiseClips));
        }
    }
}
