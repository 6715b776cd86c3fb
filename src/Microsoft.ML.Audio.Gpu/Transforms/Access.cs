// Lets this assembly use ML.NET internals at run time. It compiles against publicized copies of these two
// assemblies (see the PublicizeMLNetReferences target in the project file); without these attributes, loading a
// saved model fails with "TypeLoadException: ... overriding a method that is not visible".
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices
{
    /// <summary>Read by the .NET runtime: the named assembly's internals are accessible to this one.</summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
    {
        /// <summary>The assembly whose access checks are skipped.</summary>
        public string AssemblyName { get; } = assemblyName;
    }
}
