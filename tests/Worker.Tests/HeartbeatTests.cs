using System.Collections.Concurrent;
using System.Text;

namespace Worker.Tests;

/// <summary>
/// travis-worker's HEARTBEAT_URL: `worker run` (the real process) asks it at start and every
/// interval; "down" drains it and it exits 0; an answer it can't use changes nothing.
/// </summary>
public sealed class HeartbeatTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly LoopbackHttpServer _server;
    private readonly ConcurrentQueue<string?> _authorizations = new();
    private volatile string _answer = "{\"state\": \"up\"}";
    private volatile int _status = 200;

    public HeartbeatTests() => _server = new LoopbackHttpServer(async context =>
    {
        _authorizations.Enqueue(context.Request.Headers["Authorization"]);
        context.Response.StatusCode = _status;
        await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(_answer));
    });

    private string Url => new Uri(_server.BaseUri, "heartbeat").ToString();

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    private Dictionary<string, string> Env() => new()
    {
        ["WORKER_BASE_DIR"] = Path.Combine(_dir.Path, "state"),
        ["WORKER_PROVIDER_NAME"] = "fake",
        ["WORKER_FILE_POLLING_INTERVAL"] = "100ms",
        ["WORKER_HEARTBEAT_URL"] = Url,
        ["WORKER_HEARTBEAT_URL_AUTH_TOKEN"] = "heartbeat-secret",
        ["WORKER_HEARTBEAT_INTERVAL"] = "200ms",
    };

    [Fact]
    public async Task A_worker_keeps_running_while_the_heartbeat_says_up_or_fails_and_drains_and_exits_0_once_it_says_down()
    {
        await using var worker = WorkerProcess.Start(Env(), _dir.Path, "run");
        await worker.UntilAsync(() => _authorizations.Count >= 2, "two heartbeats answered up");
        _status = 503;
        var failedFrom = _authorizations.Count;
        await worker.UntilAsync(() => _authorizations.Count >= failedFrom + 2, "two heartbeats answered 503");
        _status = 200;
        _answer = "not json";
        var badFrom = _authorizations.Count;
        await worker.UntilAsync(() => _authorizations.Count >= badFrom + 2, "two heartbeats answered with no state");
        Assert.False(worker.HasExited, worker.Stderr);

        _answer = "{\"state\": \"down\"}";

        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.All(_authorizations, header => Assert.Equal("token heartbeat-secret", header));
        Assert.Contains("answered HTTP 503; carrying on", worker.Stderr);
        Assert.Contains("says down: draining", worker.Stderr);
        Assert.DoesNotContain("heartbeat-secret", worker.Stderr);
    }
}
