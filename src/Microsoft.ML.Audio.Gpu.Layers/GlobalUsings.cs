// The namespaces nearly every file of this project uses.
global using TorchSharp;
global using static TorchSharp.torch;
