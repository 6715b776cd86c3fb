namespace Microsoft.ML.Audio.Gpu.Transforms;

/// <summary>
/// Settings of a fused log-mel front end, made of its parts: <see cref="Stft"/> → <see cref="Mel"/> →
/// <see cref="Decibel"/> (base of <see cref="MelSpectrogramOptions"/> and <see cref="MfccOptions"/>). Each part keeps its
/// own defaults and checks. The flat properties (<see cref="FftLength"/>, <see cref="MelBinCount"/>, ...) read and write
/// the parts, so <c>new MelSpectrogramOptions { FftLength = 512 }</c> and <c>options.Stft.FftLength = 512</c> are the
/// same setting, and a <see cref="GpuStftOptions"/> made for a <c>GpuStft</c> step can be reused as the
/// <see cref="Stft"/> part.
/// </summary>
/// <remarks>
/// The STFT part holds what the parts share: the sample rate, FFT length, power and batch size. Left at null on the later
/// parts (<c>Mel.SampleRate</c>, <c>Mel.FftLength</c>, <c>Decibel.Power</c>, their defaults) they follow it; set there,
/// they must agree with it, and the estimator refuses the options otherwise, naming both. The flat properties set the
/// STFT part and clear the later parts' copies. The batch size must be the same on all three parts (the flat
/// <see cref="BatchSize"/> sets all three; unset on all three is the device's default).
/// </remarks>
public abstract class LogMelOptions
{
    private GpuStftOptions _stft = new();
    private GpuMelOptions _mel = new();
    private GpuDecibelOptions _decibel = new();

    private protected LogMelOptions()
    {
    }

    /// <summary>A deep copy of <paramref name="source"/>'s parts.</summary>
    private protected LogMelOptions(LogMelOptions source)
    {
        _stft = source._stft.Clone();
        _mel = source._mel.Clone();
        _decibel = source._decibel.Clone();
    }

    /// <summary>The parts as fitted or loaded (copies are kept).</summary>
    private protected LogMelOptions(GpuStftOptions stft, GpuMelOptions mel, GpuDecibelOptions? decibel)
    {
        _stft = stft.Clone();
        _mel = mel.Clone();
        _decibel = decibel?.Clone() ?? new GpuDecibelOptions { BatchSize = stft.BatchSize };
    }

    /// <summary>The STFT part; it also holds the settings the parts share (sample rate, FFT length, power, batch size).</summary>
    public GpuStftOptions Stft { get => _stft; set => _stft = value ?? throw new ArgumentNullException(nameof(Stft)); }

    /// <summary>The mel filterbank part.</summary>
    public GpuMelOptions Mel { get => _mel; set => _mel = value ?? throw new ArgumentNullException(nameof(Mel)); }

    /// <summary>The decibel part.</summary>
    public GpuDecibelOptions Decibel { get => _decibel; set => _decibel = value ?? throw new ArgumentNullException(nameof(Decibel)); }

    /// <summary>Sample rate of the audio in Hz. Default null: from the input's SampleRate annotation (LoadAudio sets it).</summary>
    public int? SampleRate { get => _stft.SampleRate ?? _mel.SampleRate; set { _stft.SampleRate = value; _mel.SampleRate = null; } }
    /// <inheritdoc cref="GpuStftOptions.FftLength"/>
    public int FftLength { get => _stft.FftLength; set { _stft.FftLength = value; _mel.FftLength = null; } }
    /// <inheritdoc cref="GpuStftOptions.WindowLength"/>
    public int? WindowLength { get => _stft.WindowLength; set => _stft.WindowLength = value; }
    /// <inheritdoc cref="GpuStftOptions.HopLength"/>
    public int? HopLength { get => _stft.HopLength; set => _stft.HopLength = value; }
    /// <inheritdoc cref="GpuStftOptions.Window"/>
    public WindowType Window { get => _stft.Window; set => _stft.Window = value; }
    /// <inheritdoc cref="GpuStftOptions.Center"/>
    public bool Center { get => _stft.Center; set => _stft.Center = value; }
    /// <inheritdoc cref="GpuStftOptions.PadMode"/>
    public PadMode PadMode { get => _stft.PadMode; set => _stft.PadMode = value; }
    /// <inheritdoc cref="GpuStftOptions.Framing"/>
    public FramePadding? Framing { get => _stft.Framing; set => _stft.Framing = value; }
    /// <summary>2 for a power spectrum (default; 10·log10 in decibels), 1 for magnitude (20·log10).</summary>
    public double Power { get => _stft.Power; set { _stft.Power = value; _decibel.Power = null; } }
    /// <inheritdoc cref="GpuMelOptions.MelBinCount"/>
    public int MelBinCount { get => _mel.MelBinCount; set => _mel.MelBinCount = value; }
    /// <inheritdoc cref="GpuMelOptions.MinFrequency"/>
    public double MinFrequency { get => _mel.MinFrequency; set => _mel.MinFrequency = value; }
    /// <inheritdoc cref="GpuMelOptions.MaxFrequency"/>
    public double? MaxFrequency { get => _mel.MaxFrequency; set => _mel.MaxFrequency = value; }
    /// <inheritdoc cref="GpuMelOptions.MelScale"/>
    public MelScale MelScale { get => _mel.MelScale; set => _mel.MelScale = value; }
    /// <inheritdoc cref="GpuMelOptions.MelNorm"/>
    public MelNorm MelNorm { get => _mel.MelNorm; set => _mel.MelNorm = value; }
    /// <inheritdoc cref="GpuDecibelOptions.TopDb"/>
    public double? TopDb { get => _decibel.TopDb; set => _decibel.TopDb = value; }
    /// <inheritdoc cref="GpuDecibelOptions.MinAmplitude"/>
    public double MinAmplitude { get => _decibel.MinAmplitude; set => _decibel.MinAmplitude = value; }
    /// <inheritdoc cref="GpuDecibelOptions.Reference"/>
    public double Reference { get => _decibel.Reference; set => _decibel.Reference = value; }
    /// <inheritdoc cref="GpuStftOptions.BatchSize"/>
    public int? BatchSize { get => _stft.BatchSize; set => _stft.BatchSize = _mel.BatchSize = _decibel.BatchSize = value; }

    /// <summary>A copy of the STFT part.</summary>
    internal GpuStftOptions StftPart() => _stft.Clone();

    /// <summary>A copy of the mel part with the shared settings filled in from the STFT part.</summary>
    internal GpuMelOptions MelPart()
    {
        var mel = _mel.Clone();
        mel.SampleRate ??= _stft.SampleRate;
        mel.FftLength ??= _stft.FftLength;
        return mel;
    }

    /// <summary>A copy of the decibel part with the power filled in from the STFT part.</summary>
    internal GpuDecibelOptions DecibelPart()
    {
        var db = _decibel.Clone();
        db.Power ??= _stft.Power;
        return db;
    }

    /// <summary>Checks each part and that the parts agree on what they share; the exception names the setting.</summary>
    internal void Validate()
    {
        Agree(nameof(SampleRate), _mel.SampleRate, _stft.SampleRate, "Mel");
        Agree<int>(nameof(FftLength), _mel.FftLength, _stft.FftLength, "Mel");
        Agree<double>(nameof(Power), _decibel.Power, _stft.Power, "Decibel");
        // Unset (null) is a value here, the device's default: all three parts must hold the same.
        if (_mel.BatchSize != _stft.BatchSize || _decibel.BatchSize != _stft.BatchSize)
            throw new ArgumentException(
                $"Mel.BatchSize ({_mel.BatchSize?.ToString() ?? "unset"}) and Decibel.BatchSize ({_decibel.BatchSize?.ToString() ?? "unset"}) must equal Stft.BatchSize ({_stft.BatchSize?.ToString() ?? "unset"}): set BatchSize on the options", "Mel");
        StftPart().Validate();
        MelPart().Validate();
        DecibelPart().Validate();
        ValidateOwn();
    }

    /// <summary>Checks the derived options' own settings.</summary>
    private protected virtual void ValidateOwn()
    {
    }

    private static void Agree<T>(string name, T? part, T? stft, string partName) where T : struct, IEquatable<T>
    {
        if (part is T p && stft is T s && !p.Equals(s))
            throw new ArgumentException(
                $"{partName}.{name} ({p}) disagrees with Stft.{name} ({s}): the STFT part holds the shared settings; set {name} on the options, or leave {partName}.{name} at its default", partName);
    }

    /// <summary>The parts for an audio column: the mel part's sample rate resolved against the column's (the error
    /// names <paramref name="column"/> and the option <paramref name="sampleRateOption"/>).</summary>
    internal (GpuStftOptions Stft, GpuMelOptions Mel, GpuDecibelOptions Decibel) Resolve(IExceptionContext ectx, SignalColumn input,
        string column, string sampleRateOption)
    {
        var mel = MelPart();
        mel.SampleRate = input.ResolveSampleRate(ectx, column, SampleRate, sampleRateOption);
        mel.Validate();
        return (StftPart(), mel, DecibelPart());
    }
}
