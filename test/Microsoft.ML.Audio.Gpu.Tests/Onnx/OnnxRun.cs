using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Audio.Gpu.Tests.Onnx;

/// <summary>Runs an exported file in ONNX Runtime: creating the session is the validity check (the file parses, every
/// node resolves to a kernel of its opset, the types check), then one run.</summary>
internal static class OnnxRun
{
    /// <summary>The named outputs of one run on <paramref name="input"/> <c>float[shape]</c>.</summary>
    public static Dictionary<string, Array> Run(byte[] model, string inputName, float[] input, int[] shape)
    {
        using var session = new InferenceSession(model);
        Assert.AreEqual(inputName, session.InputMetadata.Keys.Single(), "the graph's one input");
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<float>(input, shape))]);
        var outputs = new Dictionary<string, Array>();
        foreach (var r in results)
            outputs[r.Name] = r.ElementType switch
            {
                TensorElementType.Float => r.AsTensor<float>().ToArray(),
                TensorElementType.UInt32 => r.AsTensor<uint>().ToArray(),
                TensorElementType.String => r.AsTensor<string>().ToArray(),
                var t => throw new AssertFailedException($"unexpected output type {t} of '{r.Name}'"),
            };
        return outputs;
    }
}

/// <summary>Tolerances of the ONNX export tests, each with its reason.</summary>
internal static class OnnxTolerances
{
    /// <summary>The same float32 spectrum by another route (a DFT-basis convolution or ONNX's STFT against libtorch's
    /// FFT): float32 rounding in both, relative to the largest value (the aim for spectra).</summary>
    public const double SpectrumRel = 1e-5;

    /// <summary>Decibels of float32 spectra computed by two routes (the aim: 1e-3 dB).</summary>
    public const double DecibelAbs = 1e-3;

    /// <summary>Decibels more than 60 dB below an example's peak: both spectra are float32 with errors of a few 1e-7
    /// of the peak, a larger share of a value 60-80 dB down (measured: 1.9e-3 dB with ONNX Runtime's STFT kernel,
    /// 1e-3 dB with the convolution, at -79 dB).</summary>
    public const double DecibelNearFloorAbs = 1e-2;

    /// <summary>MFCC: the decibel aim carried through the orthonormal DCT, which keeps each frame's error norm
    /// (measured: 3.1e-5 on noise clips whose log-mel values all lie within 60 dB of their peak).</summary>
    public const double CepstrumAbs = 1e-3;

    /// <summary>Class probabilities of the same network in libtorch and ONNX Runtime (the aim: 1e-5).</summary>
    public const double ProbabilityAbs = 1e-5;

    /// <summary>Class probabilities of the speech-embedding backbone: its 20 float32 convolutions differ by up to 2e-6 of
    /// the largest embedding value between the two runtimes (Tolerances.SpeechEmbeddingRel), and the head carries that into
    /// the logits (measured: 2.6e-6 through AudioOnnxExport, 8.2e-6 through ConvertToOnnx); twice the aim leaves room for
    /// another CPU's kernels.</summary>
    public const double EmbeddingProbabilityAbs = 2e-5;

    /// <summary>The probability tolerance of a backbone.</summary>
    public static double Probability(Microsoft.ML.Audio.Gpu.Training.AudioBackbone backbone)
        => backbone == Microsoft.ML.Audio.Gpu.Training.AudioBackbone.SpeechEmbedding ? EmbeddingProbabilityAbs : ProbabilityAbs;
}
