namespace Microsoft.ML.Audio.Gpu.Layers;

/// <summary>
/// Mu-law encoding of a waveform in [-1, 1] into integer codes (torchaudio <c>MuLawEncoding</c>; Kapre has no
/// equivalent). See <see cref="Functional.mu_law_encoding"/>.
/// </summary>
/// <remarks>Input: real, any shape. Output: int64 codes in <c>[0, quantization_channels − 1]</c>, same shape.</remarks>
public sealed class MuLawEncoding : nn.Module<Tensor, Tensor>
{
    /// <summary>Number of codes.</summary>
    public readonly long quantization_channels;

    /// <summary>Creates the layer; see <see cref="AudioLayers.MuLawEncoding"/> for the arguments.</summary>
    public MuLawEncoding(string name, long quantization_channels) : base(name)
    {
        if (quantization_channels < 2)
            throw new ArgumentOutOfRangeException(nameof(quantization_channels), quantization_channels,
                $"quantization_channels must be at least 2, got: {quantization_channels}");
        this.quantization_channels = quantization_channels;
    }

    /// <summary>Encodes the signal.</summary>
    /// <param name="input">Signal in [-1, 1], any shape.</param>
    /// <returns>int64 codes, same shape.</returns>
    public override Tensor forward(Tensor input) => Functional.mu_law_encoding(input, quantization_channels);
}

/// <summary>
/// Mu-law decoding of integer codes into a waveform in [-1, 1] (torchaudio <c>MuLawDecoding</c>). See
/// <see cref="Functional.mu_law_decoding"/>.
/// </summary>
/// <remarks>Input: codes, any shape, integer or real. Output: real (float32 for integer codes), same shape.</remarks>
public sealed class MuLawDecoding : nn.Module<Tensor, Tensor>
{
    /// <summary>Number of codes.</summary>
    public readonly long quantization_channels;

    /// <summary>Creates the layer; see <see cref="AudioLayers.MuLawDecoding"/> for the arguments.</summary>
    public MuLawDecoding(string name, long quantization_channels) : base(name)
    {
        if (quantization_channels < 2)
            throw new ArgumentOutOfRangeException(nameof(quantization_channels), quantization_channels,
                $"quantization_channels must be at least 2, got: {quantization_channels}");
        this.quantization_channels = quantization_channels;
    }

    /// <summary>Decodes the codes.</summary>
    /// <param name="input">Codes, any shape.</param>
    /// <returns>Signal in [-1, 1], same shape.</returns>
    public override Tensor forward(Tensor input) => Functional.mu_law_decoding(input, quantization_channels);
}

public static partial class AudioLayers
{
    /// <summary>Mu-law encoding layer.</summary>
    /// <param name="quantization_channels">Number of codes, at least 2. Default 256 (8-bit, as torchaudio and G.711).</param>
    /// <param name="name">Module name.</param>
    public static MuLawEncoding MuLawEncoding(long quantization_channels = 256, string name = "mulaw_encoding") => new(name, quantization_channels);

    /// <summary>Mu-law decoding layer.</summary>
    /// <param name="quantization_channels">Number of codes, at least 2. Default 256.</param>
    /// <param name="name">Module name.</param>
    public static MuLawDecoding MuLawDecoding(long quantization_channels = 256, string name = "mulaw_decoding") => new(name, quantization_channels);
}
