using System.Diagnostics;

namespace Worker.Vm.Tests;

/// <summary>Another live process that holds a lock file (util-linux <c>flock</c>, the same flock a worker takes), until disposed.</summary>
internal sealed class LockHolder : IAsyncDisposable
{
    private readonly Process _process;

    private LockHolder(Process process) => _process = process;

    public static async Task<LockHolder> StartAsync(string path)
    {
        var process = Process.Start(new ProcessStartInfo("flock", ["--exclusive", path, "-c", "echo locked; exec sleep 300"])
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
        // The shell that runs sleep inherited the lock: both go.
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
