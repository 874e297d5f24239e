using Microsoft.Extensions.Logging;
using Worker.Composition;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;
using Worker.JobBoard.Tests.Fakes;

namespace Worker.JobBoard.Tests;

/// <summary>
/// A worker host in this process, composed as <c>worker run</c> composes it (settings, the local
/// backend, the processor pool, the pipeline) on the http queue pointed at a fake job-board, with
/// short waits between retries. Its log lines are kept.
/// </summary>
internal sealed class WorkerOnJobBoard : IAsyncDisposable
{
    public static readonly JobBoardTiming Quick = new()
    {
        FirstWait = TimeSpan.FromMilliseconds(50),
        MaxWait = TimeSpan.FromMilliseconds(300),
        GiveUpAfter = TimeSpan.FromSeconds(10),
        AttemptTimeout = TimeSpan.FromSeconds(2),
        MaxPopWait = TimeSpan.FromMilliseconds(500),
    };

    private readonly string _dir;
    private readonly ILoggerFactory _loggers;
    private readonly WorkerContext _context;
    private readonly IBackend _backend;
    private readonly Task _running;

    private WorkerOnJobBoard(string dir, ListLoggerProvider log, ILoggerFactory loggers, WorkerContext context, IBackend backend, JobBoardQueue queue,
        ProcessorPool pool)
    {
        _dir = dir;
        Log = log;
        _loggers = loggers;
        _context = context;
        _backend = backend;
        Queue = queue;
        Pool = pool;
        _running = pool.RunAsync(CancellationToken.None);
    }

    public ListLoggerProvider Log { get; }
    public JobBoardQueue Queue { get; }
    public ProcessorPool Pool { get; }

    public string LogText
    {
        get { lock (Log.Lines) { return string.Join("\n", Log.Lines); } }
    }

    /// <param name="url">JOB_BOARD_URL; null: the fake's, with its credentials.</param>
    public static WorkerOnJobBoard Start(FakeJobBoardServer jobBoard, int poolSize = 1, JobBoardTiming? timing = null, string? url = null,
        params (string Name, string Value)[] more)
    {
        var dir = Directory.CreateTempSubdirectory("worker-jobboard-").FullName;
        var settings = SettingsSource.From(
        [
            ("WORKER_PROVIDER_NAME", "local"),
            ("WORKER_QUEUE_TYPE", "http"),
            ("WORKER_JOB_BOARD_URL", url ?? jobBoard.UrlWithCredentials),
            ("WORKER_TRAVIS_SITE", FakeJobBoardServer.Site),
            ("WORKER_QUEUE_NAME", jobBoard.Queue),
            ("WORKER_BASE_DIR", dir),
            ("WORKER_POOL_SIZE", poolSize.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("WORKER_HTTP_POLLING_INTERVAL", "100ms"),
            ("WORKER_HTTP_REFRESH_CLAIM_INTERVAL", "200ms"),
            ("WORKER_LOG_FLUSH_INTERVAL", "100ms"),
            ("WORKER_TEARDOWN_TIMEOUT", "20s"),
            .. more,
        ]);
        var log = new ListLoggerProvider();
        var loggers = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Debug));
        var context = WorkerContext.Create(settings, loggers);
        var backend = Backends.Configured(settings).CreateBackend(context.Services);
        var options = JobBoardOptions.Load(settings, context.Options, context.Services.BackendName) with { Timing = timing ?? Quick };
        var queue = new JobBoardQueue(options, context.Cancellations, loggers);
        return new WorkerOnJobBoard(dir, log, loggers, context, backend, queue, context.CreatePool(queue, backend));
    }

    /// <summary>Drains (running jobs finish), then closes the queue and the backend as worker run does.</summary>
    public async Task DrainAsync(TimeSpan? timeout = null)
    {
        await Pool.DrainAsync(timeout ?? TimeSpan.FromSeconds(30));
        await _running;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_running.IsCompleted)
        {
            Pool.StopNow();
            await _running;
        }
        await Queue.DisposeAsync();
        await _backend.DisposeAsync();
        _context.Dispose();
        _loggers.Dispose();
        try
        {
            Directory.Delete(_dir, true);
        }
        catch (IOException)
        {
        }
    }
}
