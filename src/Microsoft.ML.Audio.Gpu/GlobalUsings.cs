// The namespaces nearly every file of this project uses.
global using Microsoft.ML;
global using Microsoft.ML.Audio.Gpu.Layers;
global using Microsoft.ML.Audio.Gpu.Transforms;
global using Microsoft.ML.Data;
global using Microsoft.ML.Runtime;
global using TorchSharp;
global using static TorchSharp.torch;
