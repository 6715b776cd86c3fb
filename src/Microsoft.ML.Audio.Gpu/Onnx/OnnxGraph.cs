using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Audio.Gpu.Onnx;

/// <summary>
/// A small ONNX graph writer over OnnxSharp's generated protobuf classes: nodes, initializers, inputs and outputs, with
/// unique value names. <see cref="ToModel"/> checks what <c>onnx.checker</c> would (every node input is a graph input,
/// an initializer or an earlier node's output; names are unique), so a broken graph fails at export, not in a runtime.
/// </summary>
internal sealed class OnnxGraph : IOnnxEmitter
{
    private readonly GraphProto _graph = new() { Name = "kapre_mlnet" };
    private readonly HashSet<string> _names = [];
    private int _counter;

    /// <summary>The operator set the nodes are written for.</summary>
    public int Opset { get; }

    public OnnxGraph(int opset) => Opset = opset;

    /// <summary>A value name not used yet, from <paramref name="hint"/>.</summary>
    public string Fresh(string hint)
    {
        string name = hint;
        while (!_names.Add(name)) name = $"{hint}_{++_counter}";
        return name;
    }

    /// <summary>Declares a graph input; dimensions of -1 are dynamic, named by <paramref name="dimNames"/>.</summary>
    public string Input(string name, TensorProto.Types.DataType type, long[] dims, string?[]? dimNames = null)
    {
        if (!_names.Add(name)) throw new InvalidOperationException($"ONNX export: the value name '{name}' is used twice.");
        _graph.Input.Add(ValueInfo(name, type, dims, dimNames));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> (a node output) as the graph output <paramref name="name"/>, through an
    /// Identity node when the names differ.</summary>
    public void Output(string value, string name, TensorProto.Types.DataType type, long[] dims, string?[]? dimNames = null)
    {
        if (value != name)
        {
            if (!_names.Add(name)) throw new InvalidOperationException($"ONNX export: the output name '{name}' is used twice.");
            _graph.Node.Add(new NodeProto { OpType = "Identity", Name = Fresh("identity_" + name), Input = { value }, Output = { name } });
        }
        _graph.Output.Add(ValueInfo(name, type, dims, dimNames));
    }

    /// <summary>Adds a node with one output; returns the output's name.</summary>
    public string Node(string opType, string[] inputs, params AttributeProto[] attributes) => Node(opType, inputs, 1, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputs"/> outputs; returns their names.</summary>
    public string[] Node(string opType, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var names = Enumerable.Range(0, outputs).Select(i => Fresh($"{opType.ToLowerInvariant()}{(outputs > 1 ? "_" + i : "")}")).ToArray();
        var node = new NodeProto { OpType = opType, Name = Fresh("node_" + opType.ToLowerInvariant()) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return names;
    }

    /// <summary>A float32 initializer.</summary>
    public string Floats(string hint, ReadOnlySpan<float> values, params long[] dims)
    {
        CheckCount(hint, values.Length, dims);
        var t = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        // Raw little-endian bytes: what ONNX Runtime reads fastest, and a quarter of the size of text.
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        _graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>A float32 scalar initializer.</summary>
    public string Scalar(string hint, float value) => Floats(hint, [value]);

    /// <summary>An int64 initializer (shapes, axes, pads, indices).</summary>
    public string Int64s(string hint, long[] values, params long[] dims)
    {
        CheckCount(hint, values.Length, dims);
        var t = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(dims);
        t.Int64Data.AddRange(values);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>A 1-D string initializer.</summary>
    public string Strings(string hint, IReadOnlyList<string> values)
    {
        var t = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.String };
        t.Dims.Add(values.Count);
        t.StringData.AddRange(values.Select(v => ByteString.CopyFrom(v, Encoding.UTF8)));
        _graph.Initializer.Add(t);
        return t.Name;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    public static AttributeProto Text(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };
    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>The model, after checking that the graph is well formed.</summary>
    /// <param name="producerVersion">The library's version.</param>
    /// <param name="docString">What the graph computes, for people reading the file.</param>
    /// <param name="metadata">Key-value pairs an app reads back (ONNX Runtime: <c>ModelMetadata.CustomMetadataMap</c>).</param>
    public ModelProto ToModel(string producerVersion, string docString, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var defined = new HashSet<string>(_graph.Input.Select(i => i.Name).Concat(_graph.Initializer.Select(i => i.Name)));
        foreach (var node in _graph.Node)
        {
            foreach (var input in node.Input)
                if (input.Length > 0 && !defined.Contains(input))
                    throw new InvalidOperationException($"ONNX export: node '{node.Name}' ({node.OpType}) reads '{input}', which nothing before it defines.");
            foreach (var output in node.Output)
                if (!defined.Add(output))
                    throw new InvalidOperationException($"ONNX export: the value '{output}' is defined twice.");
        }
        foreach (var output in _graph.Output)
            if (!defined.Contains(output.Name))
                throw new InvalidOperationException($"ONNX export: the graph output '{output.Name}' is not computed.");
        var model = new ModelProto
        {
            // IR 8 is the oldest that opset 17 allows; ONNX Runtime 1.14 and later read it.
            IrVersion = 8,
            ProducerName = "Kapre.MLNet",
            ProducerVersion = producerVersion,
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    private static void CheckCount(string hint, long count, long[] dims)
    {
        long expected = dims.Aggregate(1L, (a, b) => a * b);
        if (count != expected)
            throw new InvalidOperationException($"ONNX export: initializer '{hint}' has {count} values for shape [{string.Join(", ", dims)}].");
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, long[] dims, string?[]? dimNames)
    {
        var shape = new TensorShapeProto();
        for (int i = 0; i < dims.Length; i++)
            shape.Dim.Add(dims[i] >= 0
                ? new TensorShapeProto.Types.Dimension { DimValue = dims[i] }
                : new TensorShapeProto.Types.Dimension { DimParam = dimNames?[i] ?? $"d{i}" });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
