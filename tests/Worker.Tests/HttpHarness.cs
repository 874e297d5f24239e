using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Composition;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Http;

namespace Worker.Tests;

/// <summary>
/// A running pool on the fake backend with the health and control server in front of it, on
/// 127.0.0.1 and a free port. Jobs come from an in-memory queue unless a queue is given.
/// </summary>
internal sealed class HttpHarness : IAsyncDisposable
{
    public const string Token = "t0ken-for-tests";

    private readonly WorkerContext _context;
    private readonly Task _running;

    private HttpHarness(WorkerContext context, IJobQueue queue, ProcessorPool pool, WorkerHttpServer server)
    {
        _context = context;
        Queue = queue;
        Pool = pool;
        Server = server;
        Client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(10) };
        _running = pool.RunAsync(CancellationToken.None);
    }

    public IJobQueue Queue { get; }
    public ProcessorPool Pool { get; }
    public WorkerHttpServer Server { get; }
    public HttpClient Client { get; }
    public Task Stopped => _running;

    /// <param name="token">The configured WORKER_HTTP_AUTH_TOKEN; null leaves the control endpoints off.</param>
    /// <param name="fakeRun">How long each fake job runs.</param>
    public static async Task<HttpHarness> StartAsync(string? token = Token, TimeSpan? fakeRun = null, int poolSize = 1,
        TimeSpan? drainTimeout = null, Func<WorkerContext, IJobQueue>? queue = null)
    {
        var settings = SettingsSource.From(
            ("WORKER_PROVIDER_NAME", "fake"),
            ("WORKER_POOL_SIZE", poolSize.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("WORKER_HOSTNAME", "test-host"),
            ("WORKER_LOG_FLUSH_INTERVAL", "50ms"));
        var context = WorkerContext.Create(settings, NullLoggerFactory.Instance);
        var backend = new FakeBackend(new FakeOptions { Run = fakeRun ?? TimeSpan.Zero, Output = "fake output\n" });
        var jobs = queue?.Invoke(context) ?? new InMemoryJobQueue();
        var pool = context.CreatePool(jobs, backend);
        var options = new HttpOptions { Address = new HttpListenAddress("127.0.0.1", 0), Token = token };
        var server = await WorkerHttpServer.StartAsync(options, pool, context.Options.Host, drainTimeout ?? TimeSpan.FromSeconds(30),
            NullLoggerFactory.Instance);
        return new HttpHarness(context, jobs, pool, server!);
    }

    public InMemoryJob Enqueue(long id) =>
        ((InMemoryJobQueue)Queue).Enqueue(JobFile.Parse($"id: {id}\nscript: [\"true\"]", "memory"));

    public static HttpRequestMessage Request(HttpMethod method, string path, string? bearer = null, object? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        if (body is not null)
        {
            request.Content = body as HttpContent ?? JsonContent.Create(body);
        }
        return request;
    }

    public async Task<JsonObject> StatusAsync()
    {
        var json = await Client.GetStringAsync("/status");
        return JsonNode.Parse(json)!.AsObject();
    }

    public async ValueTask DisposeAsync()
    {
        Pool.StopNow();
        await _running.WaitAsync(TimeSpan.FromSeconds(15));
        Client.Dispose();
        await Server.DisposeAsync();
        _context.Dispose();
    }
}
