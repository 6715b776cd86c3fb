using Microsoft.ML.Audio.Gpu.IO;

namespace Microsoft.ML.Audio.Gpu.Tests.IO;

/// <summary>Caller mistakes are argument exceptions naming the argument or option, raised before any reading; they are
/// never reported as bad audio.</summary>
[TestClass]
public sealed class ArgumentValidationTests
{
    private static readonly byte[] Wav = WavBuilder.For(Signals.MultiChannel(100, 1, 8000), 8000, SampleFormat.Pcm16).ToBytes();

    private static void AssertNames(string expectedParam, Action call)
    {
        var e = Assert.Throws<ArgumentException>(call);
        Assert.AreEqual(expectedParam, e.ParamName, e.Message);
        StringAssert.Contains(e.Message, expectedParam);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(-16000)]
    public void Decode_RejectsANonPositiveSampleRate(int rate)
        => AssertNames("SampleRate", () => AudioDecoder.Decode(Wav, "x.wav", new AudioDecodeOptions { SampleRate = rate }));

    [TestMethod]
    [DataRow(0.0)]
    [DataRow(-1.0)]
    [DataRow(double.NaN)]
    [DataRow(double.PositiveInfinity)]
    [DataRow(double.NegativeInfinity)]
    [DataRow(1e12)] // at 16 kHz: more frames than an array holds
    public void Decode_RejectsADurationThatIsNotAPositiveFiniteNumberOfFrames(double seconds)
        => AssertNames("DurationSeconds", () => AudioDecoder.Decode(Wav, "x.wav", new AudioDecodeOptions { SampleRate = 16000, DurationSeconds = seconds }));

    [TestMethod]
    public void Decode_ValidatesOptionsBeforeOpeningTheFile()
        => AssertNames("SampleRate", () => AudioDecoder.Decode("/no/such/file.wav", new AudioDecodeOptions { SampleRate = -1 }));

    [TestMethod]
    public void Decode_ReportsAsBadAudio_ADurationTooLongForTheFilesOwnRate()
    {
        var e = Assert.Throws<AudioDecodeException>(() => AudioDecoder.Decode(Wav, "x.wav", new AudioDecodeOptions { DurationSeconds = 1e9 }));
        StringAssert.Contains(e.Reason, "DurationSeconds 1000000000 at 8000 Hz is 8000000000000 frames");
    }

    [TestMethod]
    public void Decode_RejectsNullAndEmptyArguments()
    {
        var options = new AudioDecodeOptions();
        Assert.Throws<ArgumentNullException>(() => AudioDecoder.Decode((string)null!, options));
        Assert.Throws<ArgumentException>(() => AudioDecoder.Decode("", options));
        Assert.Throws<ArgumentNullException>(() => AudioDecoder.Decode("a.wav", null!));
        Assert.Throws<ArgumentNullException>(() => AudioDecoder.Decode(Wav, null!, options));
        Assert.Throws<ArgumentNullException>(() => AudioDecoder.Decode(Wav, "x", null!));
        Assert.Throws<ArgumentNullException>(() => AudioDecoder.Decode((Stream)null!, "x", options));
        Assert.Throws<ArgumentNullException>(() => AudioDecoder.Decode(new MemoryStream(Wav), null!, options));
        Assert.Throws<ArgumentNullException>(() => AudioDecoder.Decode(new MemoryStream(Wav), "x", null!));
    }

    [TestMethod]
    public void Decode_RejectsAStreamThatCannotBeRead()
    {
        var stream = new MemoryStream(Wav);
        stream.Dispose(); // a disposed MemoryStream reports CanRead = false
        AssertNames("stream", () => AudioDecoder.Decode(stream, "x", new AudioDecodeOptions()));
    }

    [TestMethod]
    public void ResamplerHalfLength_RejectsNonPositiveRates()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AudioDecoder.ResamplerHalfLength(0, 16000));
        Assert.Throws<ArgumentOutOfRangeException>(() => AudioDecoder.ResamplerHalfLength(16000, -1));
    }

    [TestMethod]
    public void AudioBuffer_ExposesItsShape_AndEachChannelAsARow()
    {
        var buffer = new AudioBuffer([1, 2, 3, 4, 5, 6], channels: 2, sampleRate: 3);

        Assert.AreEqual(3, buffer.Frames);
        Assert.AreEqual(1.0, buffer.DurationSeconds);
        CollectionAssert.AreEqual(new float[] { 4, 5, 6 }, buffer.GetChannel(1).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.GetChannel(2));
    }

    [TestMethod]
    public void AudioBuffer_RejectsAnInconsistentShape()
    {
        Assert.Throws<ArgumentNullException>(() => new AudioBuffer(null!, 1, 8000));
        AssertNames("channels", () => new AudioBuffer([1, 2], 0, 8000));
        AssertNames("sampleRate", () => new AudioBuffer([1, 2], 1, 0));
        AssertNames("samples", () => new AudioBuffer([1, 2, 3], 2, 8000));
    }
}
