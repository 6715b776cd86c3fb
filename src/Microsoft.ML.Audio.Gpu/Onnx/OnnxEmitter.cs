using Microsoft.ML.Model.OnnxConverter;
using Onnx;

namespace Microsoft.ML.Audio.Gpu.Onnx;

/// <summary>Where the export writes nodes: this package's own <see cref="OnnxGraph"/> (AudioOnnxExport), or ML.NET's
/// <see cref="OnnxContext"/> (mlContext.Model.ConvertToOnnx), so that each layer's ONNX form is written once.</summary>
internal interface IOnnxEmitter
{
    /// <summary>The operator set the nodes are written for.</summary>
    int Opset { get; }

    /// <summary>Adds a node with one output; returns the output's name.</summary>
    string Node(string opType, string[] inputs, params AttributeProto[] attributes);

    /// <summary>A float32 initializer.</summary>
    string Floats(string hint, ReadOnlySpan<float> values, params long[] dims);

    /// <summary>An int64 initializer.</summary>
    string Int64s(string hint, long[] values, params long[] dims);

    /// <summary>A float32 scalar initializer.</summary>
    string Scalar(string hint, float value);
}

/// <summary>Nodes written into ML.NET's ONNX context, for a transformer's <c>SaveAsOnnx</c>.</summary>
internal sealed class MlNetOnnxEmitter(OnnxContext ctx, int opset) : IOnnxEmitter
{
    public int Opset { get; } = opset;

    public string Node(string opType, string[] inputs, params AttributeProto[] attributes)
    {
        string output = ctx.AddIntermediateVariable(null, opType.ToLowerInvariant(), skip: true);
        var node = ctx.CreateNode(opType, inputs, [output], ctx.GetNodeName(opType), "");
        foreach (var a in attributes)
        {
            switch (a.Type)
            {
                case AttributeProto.Types.AttributeType.Int: node.AddAttribute(a.Name, a.I); break;
                case AttributeProto.Types.AttributeType.Ints: node.AddAttribute(a.Name, a.Ints.ToArray()); break;
                case AttributeProto.Types.AttributeType.Float: node.AddAttribute(a.Name, (double)a.F); break;
                case AttributeProto.Types.AttributeType.String: node.AddAttribute(a.Name, a.S.ToStringUtf8()); break;
                default: throw new NotSupportedException($"ONNX export: attribute type {a.Type} of {opType} has no ML.NET form.");
            }
        }
        return output;
    }

    // ML.NET's tensor initializers need a shape: a scalar (no dims) goes through its scalar overloads.
    public string Floats(string hint, ReadOnlySpan<float> values, params long[] dims)
        => dims.Length == 0 ? ctx.AddInitializer(values[0], hint) : ctx.AddInitializer(values.ToArray(), dims, hint);

    public string Int64s(string hint, long[] values, params long[] dims)
        => dims.Length == 0 ? ctx.AddInitializer(values[0], hint) : ctx.AddInitializer(values, dims, hint);

    public string Scalar(string hint, float value) => ctx.AddInitializer(value, hint);
}

/// <summary>Integer arithmetic on lengths known only at run time (dynamic axes): int64 tensors of shape [1].</summary>
internal static class RunTime
{
    /// <summary>The size of <paramref name="x"/>'s axis <paramref name="axis"/> (negative: from the end), as int64 [1].</summary>
    public static string Dim(IOnnxEmitter g, string x, long axis)
        => g.Node("Slice", [g.Node("Shape", [x]), g.Int64s("axis_start", [axis], 1), g.Int64s("axis_end", [axis == -1 ? long.MaxValue : axis + 1], 1)]);

    /// <summary><c>(a · multiply + add) / divide</c>, the division truncating (lengths and counts: non-negative where used).</summary>
    public static string Affine(IOnnxEmitter g, string a, long multiply, long add, long divide)
    {
        string y = multiply == 1 ? a : g.Node("Mul", [a, g.Int64s("multiply", [multiply], 1)]);
        if (add != 0) y = g.Node("Add", [y, g.Int64s("add", [add], 1)]);
        return divide == 1 ? y : g.Node("Div", [y, g.Int64s("divide", [divide], 1)]);
    }
}
