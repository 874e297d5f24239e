using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Worker.JobBoard.Tests.Fakes;

/// <summary>
/// travis's job-board on a loopback port, with the state URL (travis-hub's) and the log parts URL
/// (travis-logs') it hands out, speaking their requests and answers: pop, fetch, claim, delete, state
/// PATCH and log parts POST. Every request is checked as job-board checks it (basic authentication
/// of pop and fetch, the job's JWT on the others, Travis-Site, From, the claim's processor, the log
/// parts' signature); what does not match is answered 401/412 and kept in <see cref="Problems"/>.
/// Faults are queued per endpoint: statuses, dropped connections and slow answers; or, while
/// <see cref="Outage"/> is set, every request on every endpoint meets one.
/// </summary>
internal sealed class FakeJobBoardServer : IAsyncDisposable
{
    public const string User = "worker";
    public const string Password = "s3cret pass";
    public const string Site = "org";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<long> _queued = new();
    private readonly ConcurrentDictionary<long, FakeJob> _jobs = new();
    private int _outageRequests;
    private OutageTrigger? _outageTrigger;

    private FakeJobBoardServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }
    public Uri BaseUrl => new($"http://127.0.0.1:{Port}/");

    /// <summary>JOB_BOARD_URL as an operator writes it: with the worker's credentials (the password escaped).</summary>
    public string UrlWithCredentials => $"http://{User}:{Uri.EscapeDataString(Password)}@127.0.0.1:{Port}";

    /// <summary>The infrastructure fetches must name (the worker's backend).</summary>
    public string Infrastructure { get; set; } = "local";

    public string Queue { get; set; } = "builds.linux";

    /// <summary>
    /// A job reported <c>created</c> (a worker gave it back) is queued here again, as travis-hub and
    /// travis-scheduler would queue it on job-board again; off: it stays out, as it does for a while.
    /// </summary>
    public bool QueueCreatedJobsAgain { get; set; }

    /// <summary>Sent with every job-board answer as Travis-Pop-Interval when set (whole seconds).</summary>
    public int? PopIntervalHeader { get; set; }

    /// <summary>What the fake found wrong in a request, one line each.</summary>
    public ConcurrentQueue<string> Problems { get; } = new();

    /// <summary>Method and path of every request, in order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>Faults answered to pops, one per pop, before pops are answered.</summary>
    public ConcurrentQueue<Fault> PopFaults { get; } = new();

    /// <summary>Faults answered to log parts posts, one per post.</summary>
    public ConcurrentQueue<Fault> LogFaults { get; } = new();

    /// <summary>Faults answered to deletes, one per delete.</summary>
    public ConcurrentQueue<Fault> DeleteFaults { get; } = new();

    /// <summary>
    /// While set, job-board is down as a real outage looks: each request, on every endpoint, gets a
    /// 500, 502, 503 or 504 or its connection dropped, in turn, before it is handled; and every sixth
    /// request that writes (claim, delete, state, log parts) is handled and then its connection dropped,
    /// the answer lost, as when a proxy gives up on a backend that did the work. A pop or fetch is never
    /// handled and lost: job-board would hold that job for a processor that never heard of it until its
    /// claim lapsed, and this fake has no claim lapse.
    /// </summary>
    public bool Outage { get; set; }

    /// <summary>
    /// Sets <see cref="Outage"/> as the next request to <paramref name="endpoint"/> arrives (pop, fetch,
    /// claim, delete, state, log parts), so an outage begins with that request in flight; a write that
    /// starts it is handled and its answer lost. The task completes then.
    /// </summary>
    public Task OutageFromNext(string endpoint)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _outageTrigger = new OutageTrigger(endpoint, started);
        return started.Task;
    }

    /// <summary>Requests met by <see cref="Outage"/>, per endpoint (pop, fetch, claim, delete, state, log parts) and kind (5xx, dropped, answer lost).</summary>
    public ConcurrentDictionary<(string Endpoint, string Kind), int> OutageFaults { get; } = new();

    /// <summary>A fault and its kind: a status with an error body, a connection dropped before any answer, or an answer that comes late.</summary>
    public sealed record Fault(int Status = 500, bool Drop = false, TimeSpan Delay = default);

    /// <summary>A state update as the state URL received it.</summary>
    public sealed record StateUpdate(long JobId, JsonObject Body)
    {
        public string State => (string)Body["state"]!;
        public string Cur => (string)Body["cur"]!;
        public int Count => (int)Body["meta"]!["state_update_count"]!;
    }

    /// <summary>A log part as the log parts URL received it, decoded.</summary>
    public sealed record ReceivedPart(long JobId, int Number, string Content, bool Final, int Post);

    public sealed class FakeJob(long id, JsonObject data, string script)
    {
        public long Id { get; } = id;
        public JsonObject Data { get; } = data;
        public string Script { get; } = script;
        public string Jwt { get; } = $"eyJhbGciOiJSUzUxMiJ9.job-{id}.{Guid.NewGuid():N}";

        /// <summary>The processor that popped it (its From).</summary>
        public string? ClaimedBy { get; set; }

        /// <summary>What a claim refresh answers; 200 while it is this processor's.</summary>
        public int ClaimStatus { get; set; } = 200;

        /// <summary>What a state update to this state answers instead of 200.</summary>
        public ConcurrentDictionary<string, int> StateStatuses { get; } = new();

        /// <summary>Answered first to the fetch; null: the envelope.</summary>
        public string? EnvelopeOverride { get; set; }

        public ConcurrentQueue<StateUpdate> States { get; } = new();
        public ConcurrentQueue<ReceivedPart> Parts { get; } = new();
        public int Claims;

        /// <summary>Claim refreshes that met the outage (a 5xx, a dropped connection or a lost answer).</summary>
        public int ClaimsFailed;
        public int Deletes;
        public List<string> Order { get; } = [];

        /// <summary>The log as the parts say it, in number order; a part sent again (its first answer was lost) counts once, as travis-logs keeps one part per number.</summary>
        public string Log => string.Concat(Parts.GroupBy(p => p.Number).OrderBy(g => g.Key).Select(g => g.First().Content));

        public IReadOnlyList<string> StateNames => [.. States.Select(s => s.State)];

        /// <summary>
        /// The state updates, an identical copy (a PATCH sent again after its answer was lost: same body,
        /// same state_update_count) counted once, as the chaos suite counts hub's AMQP state updates.
        /// </summary>
        public IReadOnlyList<StateUpdate> DistinctStates => [.. States.DistinctBy(s => s.Body.ToJsonString())];

        /// <summary>
        /// Null when the log arrived whole: parts numbered from 0 without gaps, none received before
        /// one with a lower number (a part sent again repeats its whole post), exactly one final part,
        /// the highest number and the last one received; otherwise what is wrong.
        /// </summary>
        public string? LogProblem()
        {
            var parts = Parts.ToList();
            if (parts.Count == 0)
            {
                return "no log part";
            }
            var numbers = parts.Select(p => p.Number).Distinct().Order().ToList();
            if (!numbers.SequenceEqual(Enumerable.Range(0, numbers.Count)))
            {
                return $"parts {string.Join(",", numbers)}: not 0 to {numbers.Count - 1} without gaps";
            }
            for (var i = 1; i < parts.Count; i++)
            {
                if (parts[i].Number <= parts[i - 1].Number && parts[i].Post == parts[i - 1].Post)
                {
                    return $"part {parts[i].Number} came after part {parts[i - 1].Number} in one post";
                }
            }
            var firstArrival = parts.GroupBy(p => p.Number).Select(g => g.First().Number).ToList();
            if (!firstArrival.SequenceEqual(firstArrival.Order()))
            {
                return $"parts first arrived as {string.Join(",", firstArrival)}";
            }
            var finals = parts.Where(p => p.Final).Select(p => p.Number).Distinct().ToList();
            if (finals.Count != 1)
            {
                return $"{finals.Count} final part numbers";
            }
            if (!parts[^1].Final)
            {
                return "the last part received is not the final one";
            }
            return finals[0] == numbers[^1] ? null : $"the final part is {finals[0]}, not the highest number {numbers[^1]}";
        }

        public void Note(string what)
        {
            lock (Order)
            {
                Order.Add(what);
            }
        }
    }

    public static async Task<FakeJobBoardServer> StartAsync(int? port = null)
    {
        var chosen = port ?? Worker.TestSupport.LoopbackPorts.Free();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, chosen));
        var app = builder.Build();
        var server = new FakeJobBoardServer(app, chosen);
        server.Map(app);
        await app.StartAsync();
        return server;
    }

    /// <summary>Queues a job: its travis payload (data) and the script travis-build made for it.</summary>
    public FakeJob Add(long id, string script, JsonObject? data = null)
    {
        data ??= new JsonObject
        {
            ["type"] = "test",
            ["job"] = new JsonObject { ["id"] = id, ["number"] = $"{id}.1", ["queued_at"] = "2024-05-01T10:00:00Z" },
            ["repository"] = new JsonObject { ["slug"] = "travis-ci/example" },
            ["config"] = new JsonObject { ["language"] = "ruby", ["dist"] = "xenial", ["os"] = "linux" },
            ["timeouts"] = new JsonObject { ["hard_limit"] = 600, ["log_silence"] = 300 },
            ["meta"] = new JsonObject { ["state_update_count"] = 0 },
            ["queue"] = Queue,
        };
        var job = new FakeJob(id, data, script);
        _jobs[id] = job;
        _queued.Enqueue(id);
        return job;
    }

    public FakeJob Job(long id) => _jobs[id];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            Requests.Enqueue($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}");
            if (Outage || (_outageTrigger is { } trigger && trigger.Endpoint == EndpointOf(context.Request).Endpoint))
            {
                await OutageAsync(context, next);
                return;
            }
            await next(context);
        });
        app.MapPost("/jobs/pop", (Delegate)PopAsync);
        app.MapGet("/jobs/{id:long}", FetchAsync);
        app.MapPost("/jobs/{id:long}/claim", Claim);
        app.MapDelete("/jobs/{id:long}", DeleteAsync);
        app.MapMethods("/hub/jobs/{id:long}/state", ["PATCH"], StateAsync);
        app.MapPost("/logs/log-parts/multi", (Delegate)LogPartsAsync);
    }

    private async Task<IResult> PopAsync(HttpContext context)
    {
        SetIntervals(context);
        if (PopFaults.TryDequeue(out var fault) && await ApplyAsync(fault, context) is { } faulted)
        {
            return faulted;
        }
        if ((CheckBasic(context, "pop") ?? CheckSite(context, "pop") ?? CheckFrom(context, "pop")) is { } refused)
        {
            return refused;
        }
        if (context.Request.Query["queue"] != Queue)
        {
            return Refuse(412, $"pop: queue={context.Request.Query["queue"]}, not {Queue}");
        }
        if (!_queued.TryDequeue(out var id))
        {
            return Results.StatusCode(204);
        }
        var job = _jobs[id];
        job.ClaimedBy = context.Request.Headers["From"];
        job.Note("pop");
        // job-board strips the queue's builds. prefix and sends the id as a string.
        return Results.Json(new JsonObject { ["@queue"] = Queue.Replace("builds.", "", StringComparison.Ordinal), ["job_id"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    private IResult FetchAsync(HttpContext context, long id)
    {
        SetIntervals(context);
        if ((CheckBasic(context, "fetch") ?? CheckSite(context, "fetch") ?? CheckFrom(context, "fetch")) is { } refused)
        {
            return refused;
        }
        if (context.Request.Headers["Travis-Infrastructure"] != Infrastructure)
        {
            Problems.Enqueue($"fetch: Travis-Infrastructure '{context.Request.Headers["Travis-Infrastructure"]}', not '{Infrastructure}'");
        }
        if (!_jobs.TryGetValue(id, out var job))
        {
            return Results.Json(new JsonObject { ["@type"] = "error", ["error"] = "no such job" }, statusCode: 404);
        }
        job.Note("fetch");
        if (job.EnvelopeOverride is { } envelope)
        {
            return Results.Text(envelope, "application/json");
        }
        return Results.Json(new JsonObject
        {
            ["@type"] = "job_board_job",
            ["data"] = job.Data.DeepClone(),
            ["job_script"] = new JsonObject { ["name"] = "main", ["encoding"] = "base64", ["content"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(job.Script)) },
            // job-board partially expands its templates; this one is left for the worker to expand.
            ["job_state_url"] = $"http://127.0.0.1:{Port}/hub/jobs/{{job_id}}/state",
            ["log_parts_url"] = $"http://127.0.0.1:{Port}/logs/log-parts/multi",
            ["jwt"] = job.Jwt,
            ["image_name"] = "travis-ci-garnet-trusty-1512502259-986baf0",
        });
    }

    private IResult Claim(HttpContext context, long id)
    {
        SetIntervals(context);
        if (!_jobs.TryGetValue(id, out var job))
        {
            return Refuse(404, $"claim of unknown job {id}");
        }
        if ((CheckBearer(context, job, "claim") ?? CheckSite(context, "claim") ?? CheckFrom(context, "claim")) is { } refused)
        {
            return refused;
        }
        if (context.Request.Query["queue"] != Queue)
        {
            Problems.Enqueue($"claim: queue={context.Request.Query["queue"]}, not {Queue}");
        }
        if (context.Request.Headers["From"] != job.ClaimedBy)
        {
            Problems.Enqueue($"claim of job {id} from '{context.Request.Headers["From"]}', popped by '{job.ClaimedBy}'");
        }
        Interlocked.Increment(ref job.Claims);
        return job.ClaimStatus == 200
            ? Results.Json(new JsonObject { ["@queue"] = "linux", ["@job_id"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            : Results.StatusCode(job.ClaimStatus);
    }

    private async Task<IResult> DeleteAsync(HttpContext context, long id)
    {
        if (!_jobs.TryGetValue(id, out var job))
        {
            return Refuse(404, $"delete of unknown job {id}");
        }
        if (DeleteFaults.TryDequeue(out var fault) && await ApplyAsync(fault, context) is { } faulted)
        {
            return faulted;
        }
        if ((CheckBearer(context, job, "delete") ?? CheckSite(context, "delete") ?? CheckFrom(context, "delete")) is { } refused)
        {
            return refused;
        }
        Interlocked.Increment(ref job.Deletes);
        job.Note("delete");
        return Results.StatusCode(204);
    }

    private async Task<IResult> StateAsync(HttpContext context, long id)
    {
        if (!_jobs.TryGetValue(id, out var job))
        {
            return Refuse(404, $"state of unknown job {id}");
        }
        if (CheckBearer(context, job, "state") is { } refused)
        {
            return refused;
        }
        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) != true)
        {
            Problems.Enqueue($"state: Content-Type {context.Request.ContentType}");
        }
        var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync()) as JsonObject;
        if (body is null || (long?)body["id"] != id || (string?)body["state"] != (string?)body["new"])
        {
            return Refuse(400, $"state: body {body?.ToJsonString()}");
        }
        var update = new StateUpdate(id, body);
        if (job.StateStatuses.TryGetValue(update.State, out var status))
        {
            job.Note("state " + update.State + " " + status);
            return Results.StatusCode(status);
        }
        job.States.Enqueue(update);
        job.Note("state " + update.State);
        if (update.State == "created" && QueueCreatedJobsAgain)
        {
            _queued.Enqueue(id);
        }
        return Results.Json(new JsonObject());
    }

    private async Task<IResult> LogPartsAsync(HttpContext context)
    {
        if (LogFaults.TryDequeue(out var fault) && await ApplyAsync(fault, context) is { } faulted)
        {
            return faulted;
        }
        if (context.Request.Query["source"] != "worker")
        {
            Problems.Enqueue($"log parts: source={context.Request.Query["source"]}");
        }
        var parts = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync()) as JsonArray;
        if (parts is null || parts.Count == 0)
        {
            return Refuse(400, "log parts: body is not a non-empty array");
        }
        var tokens = string.Concat(parts.Select(p => (string?)p!["tok"]));
#pragma warning disable CA5350 // job-board's log parts signature is SHA-1
        var signature = "token sig:" + Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(tokens)));
#pragma warning restore CA5350
        if (context.Request.Headers.Authorization != signature)
        {
            return Refuse(401, $"log parts: Authorization '{context.Request.Headers.Authorization}', not the parts' signature");
        }
        var post = Requests.Count;
        foreach (var part in parts.OfType<JsonObject>())
        {
            var id = (long)part["job_id"]!;
            if (!_jobs.TryGetValue(id, out var job) || (string?)part["tok"] != job.Jwt || (string?)part["@type"] != "log_part" || (string?)part["encoding"] != "base64")
            {
                return Refuse(400, $"log parts: part {part.ToJsonString()}");
            }
            var received = new ReceivedPart(id, (int)part["number"]!, Encoding.UTF8.GetString(Convert.FromBase64String((string)part["content"]!)), (bool)part["final"]!, post);
            job.Parts.Enqueue(received);
            if (received.Final)
            {
                job.Note("final log part");
            }
        }
        return Results.StatusCode(204);
    }

    /// <summary>One request met by the outage: a 5xx or a dropped connection in turn; every sixth write handled and its answer lost.</summary>
    private async Task OutageAsync(HttpContext context, RequestDelegate next)
    {
        var (endpoint, jobId) = EndpointOf(context.Request);
        var n = Interlocked.Increment(ref _outageRequests);
        var writes = endpoint is "claim" or "delete" or "state" or "log parts";
        var first = false;
        if (!Outage && Interlocked.Exchange(ref _outageTrigger, null) is { } trigger)
        {
            Outage = first = true;
            trigger.Started.TrySetResult();
        }
        var kind = writes && (first || n % 6 == 0) ? "answer lost" : (n % 5) switch { 0 => "dropped", 1 => "500", 2 => "502", 3 => "503", _ => "504" };
        OutageFaults.AddOrUpdate((endpoint, kind is "dropped" or "answer lost" ? kind : "5xx"), 1, (_, c) => c + 1);
        if (endpoint == "claim" && jobId is { } id && _jobs.TryGetValue(id, out var job))
        {
            Interlocked.Increment(ref job.ClaimsFailed);
        }
        switch (kind)
        {
            case "answer lost":
                context.Response.Body = new MemoryStream(); // the answer goes nowhere
                await next(context);
                context.Abort();
                break;
            case "dropped":
                context.Abort();
                break;
            default:
                context.Response.StatusCode = int.Parse(kind, System.Globalization.CultureInfo.InvariantCulture);
                await context.Response.WriteAsJsonAsync(new JsonObject { ["@type"] = "error", ["error"] = "job-board is down" });
                break;
        }
    }

    private sealed record OutageTrigger(string Endpoint, TaskCompletionSource Started);

    private static (string Endpoint, long? JobId) EndpointOf(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        long? id = segments.Length > 2 && long.TryParse(segments[^2], out var inPath) ? inPath
            : segments.Length > 1 && long.TryParse(segments[^1], out var last) ? last : null;
        var endpoint = path.StartsWith("/logs/", StringComparison.Ordinal) ? "log parts"
            : path.StartsWith("/hub/", StringComparison.Ordinal) ? "state"
            : path == "/jobs/pop" ? "pop"
            : path.EndsWith("/claim", StringComparison.Ordinal) ? "claim"
            : request.Method == "DELETE" ? "delete"
            : "fetch";
        return (endpoint, id);
    }

    private static async Task<IResult?> ApplyAsync(Fault fault, HttpContext context)
    {
        if (fault.Delay > TimeSpan.Zero)
        {
            await Task.Delay(fault.Delay, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        if (fault.Drop)
        {
            context.Abort();
            return Results.Empty;
        }
        return fault.Status == 200 ? null : Results.Json(new JsonObject { ["@type"] = "error", ["error"] = "injected" }, statusCode: fault.Status);
    }

    private void SetIntervals(HttpContext context)
    {
        if (PopIntervalHeader is { } seconds)
        {
            context.Response.Headers["Travis-Pop-Interval"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    private IResult? CheckBasic(HttpContext context, string what)
    {
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}"));
        return context.Request.Headers.Authorization == expected ? null : Refuse(401, $"{what}: Authorization '{context.Request.Headers.Authorization}', not the basic credentials");
    }

    private IResult? CheckBearer(HttpContext context, FakeJob job, string what) =>
        context.Request.Headers.Authorization == "Bearer " + job.Jwt ? null : Refuse(401, $"{what} of job {job.Id}: Authorization '{context.Request.Headers.Authorization}', not its JWT");

    private IResult? CheckSite(HttpContext context, string what) =>
        context.Request.Headers["Travis-Site"] == Site ? null : Refuse(412, $"{what}: Travis-Site '{context.Request.Headers["Travis-Site"]}'");

    private IResult? CheckFrom(HttpContext context, string what) =>
        context.Request.Headers.TryGetValue("From", out var from) && from.ToString().Contains('@', StringComparison.Ordinal)
            ? null
            : Refuse(412, $"{what}: From '{context.Request.Headers["From"]}'");

    private IResult Refuse(int status, string problem)
    {
        Problems.Enqueue(problem);
        return Results.Json(new JsonObject { ["@type"] = "error", ["error"] = problem }, statusCode: status);
    }
}
