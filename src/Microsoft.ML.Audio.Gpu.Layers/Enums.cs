namespace Microsoft.ML.Audio.Gpu.Layers;

// The numeric values of these enums are written into saved models: do not change them.

/// <summary>Analysis window applied to each STFT frame. All windows are periodic (DFT-even), as torch and librosa use.</summary>
public enum WindowType
{
    /// <summary>Hann window, <c>0.5 - 0.5 cos(2πn/N)</c> (torch.hann_window, periodic).</summary>
    Hann = 0,
    /// <summary>Hamming window, <c>0.54 - 0.46 cos(2πn/N)</c> (torch.hamming_window, periodic).</summary>
    Hamming = 1,
    /// <summary>Rectangular window: all ones (torch.ones, "boxcar").</summary>
    Rectangular = 2,
    /// <summary>Kaiser window, periodic, β = 12 (torch.kaiser_window's default; <see cref="Functional.kaiser_window"/> takes any β).</summary>
    Kaiser = 3,
    /// <summary>Kaiser-Bessel-derived window, β = 4π (AAC's long-block window; <see cref="Functional.kbd_window"/> takes any β).
    /// Symmetric and power-complementary by definition; its length must be even.</summary>
    KaiserBesselDerived = 4,
    /// <summary>Vorbis power-complementary window, <c>sin(π/2 · sin²(π(n + ½)/N))</c> (<see cref="Functional.vorbis_window"/>).</summary>
    Vorbis = 5,
}

/// <summary>How the signal is padded before it is cut into frames, and where a short window sits in a frame.</summary>
/// <remarks>
/// <see cref="Center"/> and <see cref="NoCenter"/> follow torch.stft and librosa: a window shorter than the FFT sits
/// in the middle of the FFT frame. The other modes follow Kapre and tf.signal.stft: frame <c>t</c> covers samples
/// <c>[t * hop, t * hop + win_length)</c> of the padded signal, and a window shorter than the FFT is zero-padded at
/// its end.
/// </remarks>
public enum FramePadding
{
    /// <summary>torch.stft <c>center=True</c>, librosa's default: <c>n_fft / 2</c> samples of padding
    /// (see <see cref="PadMode"/>) on each side; <c>1 + length / hop</c> frames.</summary>
    Center = 0,
    /// <summary>torch.stft <c>center=False</c>: no padding, <c>1 + (length - n_fft) / hop</c> frames.</summary>
    NoCenter = 1,
    /// <summary>Kapre's default (TF <c>pad_end=False</c>): no padding, <c>1 + (length - win_length) / hop</c> frames.</summary>
    Valid = 2,
    /// <summary>Kapre <c>pad_begin=True</c>: <c>n_fft - hop</c> zeros before the signal, then as <see cref="Valid"/>.</summary>
    PadBegin = 3,
    /// <summary>Kapre/TF <c>pad_end=True</c>: zeros after the signal so that there are <c>ceil(length / hop)</c> frames.</summary>
    PadEnd = 4,
    /// <summary>Kapre with both <c>pad_begin</c> and <c>pad_end</c>.</summary>
    PadBeginAndEnd = 5,
    /// <summary>Keras/TF "same" convolution padding (Kapre 2017): <c>ceil(length / hop)</c> frames, zeros split
    /// between both ends with the odd one at the end.</summary>
    Same = 6,
}

/// <summary>How <see cref="FramePadding.Center"/> fills the padding.</summary>
public enum PadMode
{
    /// <summary>Mirror the signal without repeating the edge sample (torch "reflect", librosa's default before 0.10).</summary>
    Reflect = 0,
    /// <summary>Zeros (torch "constant", librosa 0.10's default).</summary>
    Constant = 1,
}

/// <summary>What an STFT layer returns.</summary>
public enum SpectrumType
{
    /// <summary>The complex spectrum (complex64 for float32 input).</summary>
    Complex = 0,
    /// <summary><c>|X|</c>, the magnitude.</summary>
    Magnitude = 1,
    /// <summary><c>|X|²</c>, the power.</summary>
    Power = 2,
}

/// <summary>The mel scale's formula.</summary>
public enum MelScale
{
    /// <summary>HTK: <c>2595 log10(1 + f / 700)</c> (torchaudio's default, librosa <c>htk=True</c>).</summary>
    Htk = 0,
    /// <summary>Slaney's Auditory Toolbox: linear below 1 kHz, logarithmic above (librosa's default).</summary>
    Slaney = 1,
}

/// <summary>Normalisation of the mel filters.</summary>
public enum MelNorm
{
    /// <summary>Triangles of peak 1.</summary>
    None = 0,
    /// <summary>Slaney (area) normalisation: each triangle is divided by its width in Hz / 2, so filters have equal area.</summary>
    Slaney = 1,
}
