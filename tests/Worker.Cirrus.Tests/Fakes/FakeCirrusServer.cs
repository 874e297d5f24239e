using System.Collections.Concurrent;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Worker.Cirrus.Api;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests.Fakes;

/// <summary>
/// Cirrus CI's side of the persistent-worker protocol on loopback (h2c, TLS or a Unix socket),
/// serving the real proto. It records every call with its metadata, hands out the tasks, stops and
/// shutdown a test queues, checks the session token as Cirrus does (PermissionDenied when unknown),
/// and fails on demand: unavailable, sessions expired, slow answers.
/// </summary>
public sealed class FakeCirrusServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FakeWorkersService _service;

    private FakeCirrusServer(WebApplication app, FakeWorkersService service, string endpoint)
    {
        _app = app;
        _service = service;
        Endpoint = endpoint;
    }

    /// <summary>The endpoint a worker file names (<c>http://127.0.0.1:PORT</c>, <c>https://localhost:PORT</c> or <c>unix:PATH</c>).</summary>
    public string Endpoint { get; }

    public FakeWorkersService Service => _service;

    public static Task<FakeCirrusServer> StartAsync() => StartAsync(tls: null, unixSocket: null);

    /// <param name="protocols">The TLS versions the server speaks; null: the system's.</param>
    public static Task<FakeCirrusServer> StartTlsAsync(TestCertificates certificates, SslProtocols? protocols = null) =>
        StartAsync(certificates, null, protocols);

    public static Task<FakeCirrusServer> StartOnUnixSocketAsync(string path) => StartAsync(null, path);

    private static async Task<FakeCirrusServer> StartAsync(TestCertificates? tls, string? unixSocket, SslProtocols? protocols = null)
    {
        var service = new FakeWorkersService();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(service);
        var port = 0;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (unixSocket is not null)
            {
                kestrel.ListenUnixSocket(unixSocket, o => o.Protocols = HttpProtocols.Http2);
                return;
            }
            kestrel.Listen(IPAddress.Loopback, 0, o =>
            {
                o.Protocols = HttpProtocols.Http2;
                if (tls is not null)
                {
                    using var pem = X509Certificate2.CreateFromPem(tls.ServerPem, tls.ServerKeyPem);
                    // Kestrel on Linux needs a certificate with an exportable key in a store-free form.
                    var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                    o.UseHttps(certificate, https => https.SslProtocols = protocols ?? SslProtocols.None);
                }
            });
        });
        var app = builder.Build();
        app.MapGrpcService<FakeWorkersService>();
        await app.StartAsync();
        if (unixSocket is not null)
        {
            return new FakeCirrusServer(app, service, "unix:" + unixSocket);
        }
        var address = app.Urls.First();
        port = new Uri(address).Port;
        return new FakeCirrusServer(app, service, tls is null ? $"http://127.0.0.1:{port}" : $"https://localhost:{port}");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>One call as the server saw it; <paramref name="Failed"/> when it answered with an error (an injected fault or an unknown session).</summary>
public sealed record RecordedCall(string Method, IMessage Request, IReadOnlyDictionary<string, string> Metadata, bool Failed = false)
{
    /// <summary>When the server got it.</summary>
    public DateTimeOffset At { get; } = DateTimeOffset.UtcNow;

    public string? Header(string name) => Metadata.GetValueOrDefault(name);
}

/// <summary>The service behind <see cref="FakeCirrusServer"/>; tests steer it through its public members.</summary>
public sealed class FakeWorkersService : CirrusWorkersService.CirrusWorkersServiceBase
{
    private readonly ConcurrentQueue<RecordedCall> _calls = new();
    private readonly ConcurrentQueue<PollResponse.Types.AgentAwareTask> _tasksToStart = new();
    private readonly ConcurrentQueue<string> _tasksToStop = new();
    private readonly ConcurrentDictionary<string, bool> _sessions = new();
    private readonly ConcurrentDictionary<string, int> _failures = new();
    private readonly ConcurrentDictionary<string, TimeSpan> _delays = new();
    private readonly ConcurrentDictionary<string, byte> _running = new();
    private int _sessionCounter;

    /// <summary><c>poll_interval_in_seconds</c> of every answer (0: the worker's default).</summary>
    public uint PollIntervalSeconds { get; set; } = 1;

    /// <summary>Sent in <c>updated_standby_instances</c> of every answer while set.</summary>
    public StandbyInstanceParameters? UpdatedStandby { get; set; }

    /// <summary>Answer the next poll with <c>shutdown: true</c>.</summary>
    public bool Shutdown { get; set; }

    public bool Disabled { get; private set; }

    /// <summary>Answer UpdateStatus with the opposite of what was asked (a server that did not take it).</summary>
    public bool IgnoreStatusUpdates { get; set; }

    /// <summary>Answer UpdateStatus with NotFound (a worker that never registered).</summary>
    public bool UnknownWorker { get; set; }

    public IReadOnlyList<RecordedCall> Calls => _calls.ToList();

    public IReadOnlyList<string> Methods => _calls.Select(c => c.Method).ToList();

    /// <summary>The methods called, without the polls in between.</summary>
    public IReadOnlyList<string> MethodsBesidesPoll => _calls.Select(c => c.Method).Where(m => m != "Poll").ToList();

    /// <summary>The methods that were answered (not failed), without the polls in between.</summary>
    public IReadOnlyList<string> AnsweredBesidesPoll => _calls.Where(c => !c.Failed && c.Method != "Poll").Select(c => c.Method).ToList();

    /// <summary>While set, every call fails with Unavailable, as a server that is down.</summary>
    public bool Down { get; set; }

    public IReadOnlyList<RecordedCall> CallsTo(string method) => _calls.Where(c => c.Method == method).ToList();

    /// <summary>Tasks started (TaskStarted) and not yet stopped, as QueryRunningTasks reports them.</summary>
    public IReadOnlyCollection<string> RunningTasks => _running.Keys.ToList();

    public void StartTask(PollResponse.Types.AgentAwareTask task) => _tasksToStart.Enqueue(task);

    public void StopTask(string taskId) => _tasksToStop.Enqueue(taskId);

    /// <summary>The next <paramref name="times"/> calls of <paramref name="method"/> fail with <paramref name="code"/> (Unavailable: a server that is down).</summary>
    public void Fail(string method, int times, StatusCode code = StatusCode.Unavailable) => _failures[method + "/" + code] = times;

    /// <summary>Every session handed out so far stops being valid, as after a server-side expiry.</summary>
    public void ExpireSessions() => _sessions.Clear();

    /// <summary>Answers to <paramref name="method"/> come after <paramref name="delay"/>.</summary>
    public void Slow(string method, TimeSpan delay) => _delays[method] = delay;

    public override async Task<RegisterResponse> Register(RegisterRequest request, ServerCallContext context)
    {
        await EnterAsync("Register", request, context, checkSession: false);
        var token = $"session-{Interlocked.Increment(ref _sessionCounter)}";
        _sessions[token] = true;
        return new RegisterResponse { SessionToken = token };
    }

    public override async Task<PollResponse> Poll(PollRequest request, ServerCallContext context)
    {
        await EnterAsync("Poll", request, context);
        var response = new PollResponse { PollIntervalInSeconds = PollIntervalSeconds, Shutdown = Shutdown };
        if (UpdatedStandby is { } standby)
        {
            response.UpdatedStandbyInstances.Add(standby);
        }
        while (_tasksToStop.TryDequeue(out var stop))
        {
            response.TasksToStop.Add(stop);
        }
        while (_tasksToStart.TryDequeue(out var task))
        {
            response.TasksToStart.Add(task);
        }
        return response;
    }

    public override async Task<Google.Protobuf.WellKnownTypes.Empty> TaskStarted(TaskIdentification request, ServerCallContext context)
    {
        await EnterAsync("TaskStarted", request, context);
        _running[context.RequestHeaders.GetValue("org.cirruslabs.task-id") ?? ""] = 0;
        return new();
    }

    public override async Task<Google.Protobuf.WellKnownTypes.Empty> TaskFailed(TaskFailedRequest request, ServerCallContext context)
    {
        await EnterAsync("TaskFailed", request, context);
        return new();
    }

    public override async Task<Google.Protobuf.WellKnownTypes.Empty> TaskStopped(TaskIdentification request, ServerCallContext context)
    {
        await EnterAsync("TaskStopped", request, context);
        _running.TryRemove(context.RequestHeaders.GetValue("org.cirruslabs.task-id") ?? "", out _);
        return new();
    }

    public override async Task<WorkerStatus> UpdateStatus(UpdateStatusRequest request, ServerCallContext context)
    {
        // pause/resume run in a process that never registered: its session token is empty.
        await EnterAsync("UpdateStatus", request, context, checkSession: false);
        if (UnknownWorker)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "worker not found"));
        }
        if (!IgnoreStatusUpdates)
        {
            Disabled = request.Disabled;
        }
        return new WorkerStatus { Disabled = Disabled };
    }

    public override async Task<QueryRunningTasksResponse> QueryRunningTasks(QueryRunningTasksRequest request, ServerCallContext context)
    {
        await EnterAsync("QueryRunningTasks", request, context, checkSession: false);
        var response = new QueryRunningTasksResponse { Status = new WorkerStatus { Disabled = Disabled } };
        response.RunningTasks.AddRange(_running.Keys);
        return response;
    }

    private async Task EnterAsync(string method, IMessage request, ServerCallContext context, bool checkSession = true)
    {
        var metadata = context.RequestHeaders
            .Where(h => !h.IsBinary)
            .GroupBy(h => h.Key)
            .ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
        if (_delays.TryGetValue(method, out var delay))
        {
            _calls.Enqueue(new RecordedCall(method, request, metadata));
            await Task.Delay(delay, context.CancellationToken);
            return;
        }
        var failure = Failure(method, metadata, checkSession);
        _calls.Enqueue(new RecordedCall(method, request, metadata, failure is not null));
        if (failure is not null)
        {
            throw failure;
        }
    }

    private RpcException? Failure(string method, Dictionary<string, string> metadata, bool checkSession)
    {
        if (Down)
        {
            return new RpcException(new Status(StatusCode.Unavailable, "the server is down"));
        }
        foreach (var code in new[] { StatusCode.Unavailable, StatusCode.Unauthenticated, StatusCode.PermissionDenied, StatusCode.Internal })
        {
            var key = method + "/" + code;
            if (_failures.TryGetValue(key, out var left) && left > 0 && _failures.TryUpdate(key, left - 1, left))
            {
                return new RpcException(new Status(code, $"injected {code}"));
            }
        }
        if (checkSession && !_sessions.ContainsKey(metadata.GetValueOrDefault("session-token") ?? ""))
        {
            // What Cirrus (and cirrus-cli's own test server) answers to a session it does not know.
            return new RpcException(new Status(StatusCode.PermissionDenied, "unknown session"));
        }
        return null;
    }
}
