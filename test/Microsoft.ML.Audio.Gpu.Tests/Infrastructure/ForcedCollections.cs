namespace Microsoft.ML.Audio.Gpu.Tests.Infrastructure;

/// <summary>
/// The stress harnesses' hammer: a background thread looping <c>GC.Collect(); GC.WaitForPendingFinalizers();</c>, so that
/// an object whose last reference the optimised JIT has ended is finalized while a native call still uses it. Disposing
/// stops the thread and waits for it.
/// </summary>
internal sealed class ForcedCollections : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private long _count;

    /// <summary>Starts the thread when <paramref name="run"/> is true; otherwise does nothing (a calm run).</summary>
    public ForcedCollections(bool run)
    {
        _thread = new Thread(() =>
        {
            while (!_stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Interlocked.Increment(ref _count);
            }
        }) { IsBackground = true, Name = "forced collections" };
        if (run) _thread.Start();
    }

    /// <summary>Collections forced so far.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Dispose()
    {
        _stop.Cancel();
        if (_thread.IsAlive) _thread.Join();
        _stop.Dispose();
    }
}
