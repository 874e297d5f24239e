using Worker.Composition;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;

namespace Worker.Amqp.Tests;

/// <summary>
/// A whole worker in the test process, wired exactly as <c>worker run</c> wires it (settings,
/// backend, AMQP queue, processor pool), on its own connections to the broker.
/// </summary>
public sealed class InProcessWorker : IAsyncDisposable
{
    private readonly WorkerContext _context;
    private readonly IBackend _backend;
    private readonly Task _running;
    private readonly string _baseDir;
    private int _disposed;

    private InProcessWorker(WorkerContext context, AmqpJobQueue queue, IBackend backend, ProcessorPool pool, string baseDir)
    {
        _context = context;
        _backend = backend;
        Queue = queue;
        Pool = pool;
        _baseDir = baseDir;
        _running = pool.RunAsync(CancellationToken.None);
    }

    public AmqpJobQueue Queue { get; }
    public ProcessorPool Pool { get; }

    /// <summary>
    /// Starts a worker and returns once it has declared its queues (so a job published then is not
    /// dropped); <paramref name="settings"/> are WORKER_ keys without the prefix, over the test defaults.
    /// </summary>
    public static async Task<InProcessWorker> StartAsync(Uri broker, string queue, params (string Key, string Value)[] settings)
    {
        var baseDir = Path.Combine(Path.GetTempPath(), "amqp-worker-" + Guid.NewGuid().ToString("N"));
        var variables = new Dictionary<string, string>
        {
            ["WORKER_QUEUE_TYPE"] = "amqp",
            ["WORKER_AMQP_URI"] = broker.ToString(),
            ["WORKER_QUEUE_NAME"] = queue,
            ["WORKER_PROVIDER_NAME"] = "local",
            ["WORKER_BASE_DIR"] = baseDir,
            ["WORKER_POOL_SIZE"] = "1",
            ["WORKER_LOG_FLUSH_INTERVAL"] = "100ms",
            ["WORKER_TEARDOWN_TIMEOUT"] = "30s",
            ["WORKER_LOG_LEVEL"] = "warning",
        };
        foreach (var (key, value) in settings)
        {
            variables["WORKER_" + key] = value;
        }
        var context = WorkerContext.Create(new SettingsSource(variables));
        var backend = Backends.Configured(context.Settings).CreateBackend(context.Services);
        var amqp = AmqpRegistration.CreateQueue(context.Services);
        await amqp.StartAsync(CancellationToken.None);
        var pool = context.CreatePool(amqp, backend);
        return new InProcessWorker(context, amqp, backend, pool, baseDir);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await Pool.DrainAsync(TimeSpan.FromSeconds(10));
        await _running;
        await Queue.DisposeAsync();
        await _backend.DisposeAsync();
        _context.Dispose();
        try
        {
            Directory.Delete(_baseDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
