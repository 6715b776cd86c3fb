namespace Microsoft.ML.Audio.Gpu.Tests.Layers;

/// <summary>Tolerances of the parity tests, each with its reason. References are float64, stored as float32.</summary>
internal static class Tolerances
{
    /// <summary>float32 FFT against a float64 reference, relative to max |X| (measured: below 3e-7).</summary>
    public const double StftRel = 1e-5;

    /// <summary>Filterbank built in float64 and stored in float32 (rounding alone: 6e-8 of the peak).</summary>
    public const double FilterbankRel = 1e-6;

    /// <summary>float32 STFT then float32 matmul against float64, relative to the largest mel value.</summary>
    public const double MelSpectrogramRel = 1e-5;

    /// <summary>Decibels of float32 values against float64: 1e-3 dB is far below anything audible or learnable.</summary>
    public const double DecibelAbs = 1e-3;

    /// <summary>Kapre's mel reference was made by librosa in float32; its own README measured 2e-4 of the maximum
    /// against a float64 recomputation. Our float64 generator reproduced it to 1.5e-6.</summary>
    public const double KapreMelRel = 1e-5;

    /// <summary>float64 input through the same code: limited by the float32 storage of the reference (6e-8).</summary>
    public const double Float64Rel = 1e-6;

    /// <summary>The speech embedding (float32 convolutions, libtorch's and ONNX Runtime's summation orders) against
    /// openWakeWord's ONNX files in ONNX Runtime, relative to the largest value.</summary>
    public const double SpeechEmbeddingRel = 1e-5;

    /// <summary>The same float32 convolution over a batch of another size: libtorch picks another kernel and summation
    /// order (measured: the resampler 1 ulp, the speech embedding 1.7e-6 of the largest value). Layers without
    /// convolutions give identical bits at every batch size.</summary>
    public const double BatchSizeRel = 1e-5;

    /// <summary>The same float32 maths by another route (a fused module against its chain of transforms, a transform
    /// against its layer, one example against the same example in a batch): only the summation order differs.</summary>
    public const double SameComputationRel = 1e-6;

    /// <summary>Griffin-Lim's example alone against the same example in a batch: the summation-order differences of
    /// <see cref="SameComputationRel"/>, compounded over its iterations.</summary>
    public const double IterativeRel = 1e-5;

    /// <summary>An identity that holds exactly in real numbers, computed in float64 (a few roundings: about 1e-15).</summary>
    public const double Float64IdentityAbs = 1e-12;

    /// <summary>A streamed spectrogram against the offline layer on the whole signal: the same FFT of the same samples,
    /// in batches of other sizes (measured: STFT bit-identical, log-mel and MFCC 1.5e-7).</summary>
    public const double StreamingRel = 1e-6;
}
