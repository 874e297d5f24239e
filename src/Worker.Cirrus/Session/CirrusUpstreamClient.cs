using System.Globalization;
using System.Net.Security;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Cirrus.Api;
using Worker.Cirrus.Config;
using Worker.Core.Telemetry;

namespace Worker.Cirrus.Session;

/// <summary>
/// One Cirrus server, spoken to as cirrus-cli does: <c>Register</c> with the token in its body and no
/// metadata; every other call with <c>registration-token</c>, <c>session-token</c> and
/// <c>worker-name</c> (task calls also <c>org.cirruslabs.task-id</c> and
/// <c>org.cirruslabs.client-secret</c>), each under a 900 s deadline. Beyond cirrus-cli: an
/// unavailable server is retried with backoff and jitter, and a session the server no longer
/// accepts can be forgotten so the worker registers again. Each attempt of an RPC is a span
/// (<c>cirrus Poll</c>...); a failed one is counted in <c>worker.backend.errors</c> by its gRPC status.
/// </summary>
public sealed partial class CirrusUpstreamClient : IDisposable
{
    public const uint DefaultPollIntervalSeconds = 10;

    /// <summary>The backend name of the RPCs' spans and error counts.</summary>
    public const string TracedAs = "cirrus";

    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(900);

    private readonly GrpcChannel _channel;
    private readonly CirrusWorkersService.CirrusWorkersServiceClient _client;
    private readonly string _workerName;
    private readonly RetryPolicy _retry;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private volatile string _sessionToken = "";

    public CirrusUpstreamClient(string workerName, CirrusUpstream upstream, RetryPolicy? retry = null, ILogger? logger = null,
        RemoteCertificateValidationCallback? validateServer = null, TimeProvider? clock = null)
    {
        _workerName = workerName;
        Upstream = upstream;
        _retry = retry ?? RetryPolicy.Default;
        _logger = logger ?? NullLogger.Instance;
        _clock = clock ?? TimeProvider.System;
        _channel = CirrusChannels.Open(upstream.Endpoint, validateServer);
        _client = new CirrusWorkersService.CirrusWorkersServiceClient(_channel);
    }

    public CirrusUpstream Upstream { get; }

    public string Endpoint => Upstream.Endpoint;

    public bool IsRegistered => _sessionToken.Length > 0;

    /// <summary>What the server last asked for (1-3600 s), else 10.</summary>
    public uint PollIntervalSeconds { get; private set; } = DefaultPollIntervalSeconds;

    /// <summary>Registers unless a session exists. The token goes in the body; no metadata, as cirrus-cli sends it.</summary>
    public async Task RegisterAsync(WorkerInfo info, CancellationToken ct)
    {
        if (IsRegistered)
        {
            return;
        }
        var request = new RegisterRequest { RegistrationToken = Upstream.Token, WorkerInfo = info };
        var response = await CallAsync("Register", o => _client.RegisterAsync(request, o), headers: null, ct);
        _sessionToken = response.SessionToken;
        _logger.LogInformation("Registered with Cirrus at {Endpoint} as {Worker}", Endpoint, _workerName);
    }

    /// <summary>Drops the session so the next <see cref="RegisterAsync"/> registers again (the server said it no longer knows it).</summary>
    public void ForgetSession() => _sessionToken = "";

    /// <param name="request">Made for each attempt, so a poll retried after an outage tells what runs now, not what ran when it was first tried.</param>
    public async Task<PollResponse> PollAsync(Func<PollRequest> request, CancellationToken ct)
    {
        var response = await CallAsync("Poll", o => _client.PollAsync(request(), o), WorkerHeaders(), ct);
        if (response.PollIntervalInSeconds is > 0 and <= 3600)
        {
            PollIntervalSeconds = response.PollIntervalInSeconds;
        }
        return response;
    }

    public Task TaskStartedAsync(TaskRef task, CancellationToken ct) =>
        CallAsync("TaskStarted", o => _client.TaskStartedAsync(task.Identification(), o), TaskHeaders(task), ct);

    public Task TaskFailedAsync(TaskRef task, string message, CancellationToken ct)
    {
        var request = new TaskFailedRequest { Message = message };
#pragma warning disable CS0612 // task_identification: deprecated, still sent as cirrus-cli sends it.
        request.TaskIdentification = task.Identification();
#pragma warning restore CS0612
        return CallAsync("TaskFailed", o => _client.TaskFailedAsync(request, o), TaskHeaders(task), ct);
    }

    public Task TaskStoppedAsync(TaskRef task, CancellationToken ct) =>
        CallAsync("TaskStopped", o => _client.TaskStoppedAsync(task.Identification(), o), TaskHeaders(task), ct);

    /// <summary><c>UpdateStatus</c> (pause/resume). Null when the server does not know the worker yet (NotFound, which cirrus-cli ignores).</summary>
    public async Task<WorkerStatus?> UpdateStatusAsync(bool disabled, CancellationToken ct)
    {
        try
        {
            return await CallAsync("UpdateStatus", o => _client.UpdateStatusAsync(new UpdateStatusRequest { Disabled = disabled }, o), WorkerHeaders(), ct);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary><c>QueryRunningTasks</c> with an empty request, as <c>pause --wait</c> sends it.</summary>
    public Task<QueryRunningTasksResponse> QueryRunningTasksAsync(CancellationToken ct) =>
        CallAsync("QueryRunningTasks", o => _client.QueryRunningTasksAsync(new QueryRunningTasksRequest(), o), WorkerHeaders(), ct);

    public void Dispose() => _channel.Dispose();

    private Metadata WorkerHeaders() => new()
    {
        { "registration-token", Upstream.Token },
        { "session-token", _sessionToken },
        { "worker-name", _workerName },
    };

    private Metadata TaskHeaders(TaskRef task)
    {
        var headers = WorkerHeaders();
        headers.Add("org.cirruslabs.task-id", task.TaskId);
        headers.Add("org.cirruslabs.client-secret", task.ClientSecret);
        return headers;
    }

    private async Task<T> CallAsync<T>(string method, Func<CallOptions, AsyncUnaryCall<T>> call, Metadata? headers, CancellationToken ct)
    {
        var started = _clock.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            RpcException unavailable;
            // A span per attempt, so a retried call shows its failed attempts and the waits between them.
            using (var span = BackendCalls.Start(TracedAs, method))
            {
                try
                {
                    return await call(new CallOptions(headers, _clock.GetUtcNow().UtcDateTime + CallDeadline, ct));
                }
                catch (RpcException e) when (!ct.IsCancellationRequested)
                {
                    BackendCalls.Failed(span, TracedAs, KindOf(e.StatusCode), e.Status.Detail);
                    if (e.StatusCode != StatusCode.Unavailable || _clock.GetElapsedTime(started) >= _retry.GiveUpAfter)
                    {
                        throw;
                    }
                    unavailable = e;
                }
            }
            var delay = _retry.Delay(attempt);
            _logger.LogWarning("Cirrus at {Endpoint} is unavailable ({Detail}); {Method} is retried in {Delay} ms",
                Endpoint, unavailable.Status.Detail, method, delay.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture));
            await Task.Delay(delay, _clock, ct);
        }
    }

    /// <summary>A failed RPC's kind: <c>grpc_unavailable</c>, <c>grpc_deadline_exceeded</c>...</summary>
    public static string KindOf(StatusCode status) => "grpc_" + Words().Replace(status.ToString(), "$1_$2").ToLowerInvariant();

    [GeneratedRegex("([a-z])([A-Z])")]
    private static partial Regex Words();
}
