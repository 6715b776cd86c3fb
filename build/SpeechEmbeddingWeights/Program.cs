using Google.Protobuf;
using Microsoft.ML.Audio.Gpu.Layers;

// usage: SpeechEmbeddingWeights <melspectrogram.onnx> <embedding_model.onnx> <output.weights>
// Reads the float32 initializers of both ONNX files and writes them, checked by name and shape against the layers,
// in the library's raw-tensor format (what SpeechEmbedding.Pretrained reads from the assembly).
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: SpeechEmbeddingWeights <melspectrogram.onnx> <embedding_model.onnx> <output.weights>");
    return 2;
}

var initializers = new Dictionary<string, (long[] dims, float[] values)>();
foreach (var path in args[..2])
{
    var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
    foreach (var init in model.Graph.Initializer)
    {
        if (init.DataType != (int)Onnx.TensorProto.Types.DataType.Float) continue; // shape constants of the graph
        long count = init.Dims.Aggregate(1L, (a, b) => a * b);
        float[] values = init.RawData.Length > 0
            ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(init.RawData.Span).ToArray()
            : [.. init.FloatData];
        if (values.Length != count)
            throw new InvalidDataException($"{path}: initializer '{init.Name}' holds {values.Length} values for dimensions [{string.Join(", ", init.Dims)}].");
        initializers[init.Name] = ([.. init.Dims], values);
    }
}

using var embedding = new SpeechEmbedding("speech_embedding");
SpeechEmbedding.LoadOnnxInitializers(embedding, initializers);
using (var output = File.Create(args[2])) SpeechEmbedding.SaveWeights(embedding, output);
long parameters = embedding.state_dict().Values.Sum(t => t.numel());
Console.WriteLine($"SpeechEmbeddingWeights: {parameters:N0} values from {initializers.Count} initializers -> {args[2]} ({new FileInfo(args[2]).Length:N0} bytes)");
return 0;
