using System.Runtime.CompilerServices;
using Microsoft.ML.Audio.Gpu.Layers;

namespace Microsoft.ML.Audio.Gpu.Tests.Reliability;

internal static class OneDnnIsaInit
{
    // Some tests call TorchSharp before any type of the layers assembly loads; oneDNN must see the setting first.
    [ModuleInitializer]
    internal static void Apply() => OneDnnIsa.Apply();
}
