using System.Diagnostics;

namespace Worker.Vm.Tests;

/// <summary>Another live process that holds a lock file (util-linux <c>flock</c>, the same flock a worker takes), until disposed.</summary>
internal sealed class LockHolder : IAsyncDisposable
{
    private readonly Process _process;

    private LockHolder(Process process) => _process = process;

    public static async Task<LockHolder> StartAsync(string path)
    {
        // --close: only flock itself holds the lock, not the command it starts, so the lock is gone once it
        // has exited (a child still dying kept it for a moment after the wait below, and a sweep found it held).
        var process = Process.Start(new ProcessStartInfo("flock", ["--exclusive", "--close", path, "-c", "echo locked; exec sleep 300"])
        {
            RedirectStandardOutput = true,
        })!;
        var holder = new LockHolder(process);
        try
        {
            Assert.Equal("locked", await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)));
            return holder;
        }
        catch
        {
            await holder.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
