using System.Collections.Concurrent;
using System.Globalization;
using Worker.Core.Logs;

namespace Worker.Core.Backends.Fake;

/// <summary>
/// A backend without machines: prints configured output, sleeps, exits with a configured code, or
/// fails in the ways real machines fail (start errors, incomplete runs). Counts what it made, so a
/// test can check that every machine was stopped. <see cref="Down"/> plays a host whose backend
/// is unreachable: starts and probes fail as host failures until it is switched back.
/// </summary>
public sealed class FakeBackend(FakeOptions options) : IBackend
{
    private int _failuresLeft = options.FailFirstStarts;
    private int _started;
    private volatile bool _down = options.HostDown;
    private int _probes;

    public string Name => "fake";

    /// <summary>Starts and probes fail as host failures while this is set.</summary>
    public bool Down
    {
        get => _down;
        set => _down = value;
    }

    public string ProbeDescription => "a look at the fake backend's switch";

    /// <summary>How often the backend was probed.</summary>
    public int Probes => Volatile.Read(ref _probes);

    public Task ProbeAsync(CancellationToken ct)
    {
        Interlocked.Increment(ref _probes);
        return Down ? Task.FromException(Unreachable()) : Task.CompletedTask;
    }

    public ConcurrentDictionary<string, FakeInstance> Live { get; } = new();

    public int Started => Volatile.Read(ref _started);

    public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
    {
        if (options.Startup > TimeSpan.Zero)
        {
            progress.Report("Booting a fake machine...");
            await Task.Delay(options.Startup, ct);
        }
        if (Down)
        {
            throw Unreachable();
        }
        if (options.FailStart || Interlocked.Decrement(ref _failuresLeft) >= 0)
        {
            throw new InvalidOperationException("the fake machine failed to start");
        }
        var instance = new FakeInstance(this, $"fake-{attributes.JobId.ToString(CultureInfo.InvariantCulture)}-{Interlocked.Increment(ref _started)}", options);
        Live[instance.Id] = instance;
        return instance;
    }

    private static BackendFailureException Unreachable() =>
        BackendFailureException.Host("the fake backend is down (WORKER_FAKE_HOST_DOWN, or switched off by a test)");

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public sealed class FakeInstance(FakeBackend backend, string id, FakeOptions options) : IInstance
    {
        public string Id { get; } = id;
        public string ImageName => "fake";
        public string? Script { get; private set; }

        /// <summary>The files copied in (path, content, mode).</summary>
        public ConcurrentDictionary<string, (byte[] Content, UnixFileMode Mode)> Files { get; } = new();

        public Task UploadScriptAsync(string script, CancellationToken ct)
        {
            Script = script;
            return Task.CompletedTask;
        }

        public async Task UploadFileAsync(string path, Stream content, UnixFileMode mode, CancellationToken ct)
        {
            using var copy = new MemoryStream();
            await content.CopyToAsync(copy, ct);
            Files[path] = (copy.ToArray(), mode);
        }

        public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
        {
            await log.WriteAsync(options.Output, ct);
            if (options.Run > TimeSpan.Zero)
            {
                await Task.Delay(options.Run, ct);
            }
            return options.EndIncomplete ? RunResult.Incomplete : RunResult.Exited(options.Exit);
        }

        public async Task StopAsync(CancellationToken ct)
        {
            if (options.Stop > TimeSpan.Zero)
            {
                await Task.Delay(options.Stop, ct);
            }
            backend.Live.TryRemove(Id, out _);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
