using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Worker.Gce.Tests.Fakes;

/// <summary>The Compute API calls the fake tells apart, for fault injection and counting.</summary>
public enum FakeCall
{
    Any,
    InsertInstance,
    GetInstance,
    DeleteInstance,
    AggregatedInstances,
    ZoneOperation,
    AggregatedOperations,
    ListZones,
    GetZone,
    ListImages,
    GetGroup,
    DeleteGroupInstances,
}

/// <summary>How one call fails: an HTTP error with a reason, no answer for a while, or a garbled body.</summary>
public abstract record FakeFault
{
    public sealed record Error(int Status, string Reason) : FakeFault;

    public sealed record Hang(TimeSpan For) : FakeFault;

    public sealed record BadJson : FakeFault;

    /// <summary>The call is carried out, but its answer never arrives (a timeout after the fact).</summary>
    public sealed record LoseAnswer : FakeFault;

    /// <summary>The call's answer never arrives, and the call is carried out only <paramref name="After"/> it came in (a backend running late).</summary>
    public sealed record LandLate(TimeSpan After) : FakeFault;

    public static FakeFault TooManyRequests => new Error(429, "rateLimitExceeded");
    public static FakeFault ServerError => new Error(500, "backendError");
    public static FakeFault RateLimitExceeded => new Error(403, "rateLimitExceeded");
}

/// <summary>
/// A Compute Engine API v1 on a loopback port, speaking the real request and response JSON for the
/// calls the GCE backend and the cleanup sidecar make: instances insert/get/delete/aggregatedList,
/// zoneOperations get/wait, globalOperations aggregatedList, zones list and get, images list (with
/// filters and paging), and a managed instance group's get and deleteInstances (regional or zonal).
/// Operations go PENDING, RUNNING, DONE as they are polled. Instances with
/// <see cref="BootVms"/> are real sshds (<see cref="TestSshd"/>), each on its own 127.x address.
/// Two projects (the job project and <see cref="HostProject"/>); instance names are unique per
/// project and zone, as on GCE. Faults: any call can fail with an HTTP error, hang, answer garbage
/// or, carried out late, never answer; a second account can lack
/// the permission for some calls (403 forbidden, <see cref="AddAccount"/>); a zone can be exhausted
/// (insert operations there end with ZONE_RESOURCE_POOL_EXHAUSTED or QUOTA_EXCEEDED); an instance
/// can be preempted when it is preemptible or Spot. GPUs (<c>guestAccelerators</c>) are checked as
/// Compute Engine checks them: a type the zone does not offer (<see cref="WithholdGpu"/>), or GPUs on
/// a VM left to live migration, is a 400; so is the <c>scheduling</c> of a preemptible or Spot VM
/// that asks Compute Engine to restart or live-migrate it (<see cref="SchedulingRefusal"/>).
/// </summary>
public sealed class FakeComputeApi : IAsyncDisposable
{
    public const string Project = "test-project";

    /// <summary>A second project the fake serves, where the worker hosts run when they are not in the job project.</summary>
    public const string HostProject = "host-project";
    public const string Token = "test-token";
    public const string Region = "us-central1";
    public const string SelfLinkBase = "https://www.googleapis.com/compute/v1/";

    private static int s_nextAddress;

    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    /// <summary>Keyed by project, zone and name: names are unique per project and zone, as on GCE.</summary>
    private readonly Dictionary<string, FakeInstance> _instances = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeOperation> _operations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeOperation> _byRequestId = new(StringComparer.Ordinal);
    private readonly List<(FakeCall Call, FakeFault Fault)> _faults = [];
    private readonly Dictionary<string, HashSet<FakeCall>> _accounts = new(StringComparer.Ordinal) { [Token] = [] };
    private readonly Dictionary<string, string> _exhaustedZones = new(StringComparer.Ordinal);
    private readonly HashSet<(string Zone, string Type)> _withheldGpus = [];
    private readonly Dictionary<string, FakeGroup> _groups = new(StringComparer.Ordinal);
    private readonly string _dir = Directory.CreateTempSubdirectory("fake-gce-").FullName;
    private long _nextId = 1000;

    private FakeComputeApi(WebApplication app, int sshPort)
    {
        _app = app;
        SshPort = sshPort;
    }

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The port every fake VM's sshd listens on (each on its own address).</summary>
    public int SshPort { get; }

    /// <summary>Instances become real sshds when they are RUNNING.</summary>
    public bool BootVms { get; init; } = true;

    /// <summary>The user the VMs' ssh-keys are installed for (the guest agent would create it).</summary>
    public string VmUser { get; init; } = Environment.UserName;

    public string[] Zones { get; } = ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f", "europe-west1-b"];

    /// <summary>The accelerator types every zone offers unless one is withheld from it.</summary>
    public string[] GpuTypes { get; } = ["nvidia-tesla-t4", "nvidia-tesla-v100", "nvidia-tesla-p100", "nvidia-l4"];

    public ConcurrentQueue<(DateTimeOffset At, FakeCall Call, string Method, string Path)> Requests { get; } = new();

    /// <summary>The JSON body of every request that had one, with its call and path.</summary>
    public ConcurrentQueue<(FakeCall Call, string Path, JsonObject Body)> Bodies { get; } = new();

    /// <summary>Names of every instance ever created, in order.</summary>
    public ConcurrentQueue<string> Created { get; } = new();

    public static async Task<FakeComputeApi> StartAsync(bool bootVms = true)
    {
        var app = LoopbackApp.Build();
        var fake = new FakeComputeApi(app, TestSshd.FreePort()) { BootVms = bootVms };
        app.Run(fake.HandleAsync);
        fake.Endpoint = new Uri(await LoopbackApp.StartAsync(app), "/compute/v1/");
        return fake;
    }

    /// <summary>Names of the instances the fake holds now.</summary>
    public IReadOnlyList<string> InstanceNames
    {
        get
        {
            lock (_lock)
            {
                return [.. _instances.Values.Select(i => i.Name)];
            }
        }
    }

    public JsonObject? Instance(string name)
    {
        lock (_lock)
        {
            return Find(name) is { } i ? (JsonObject)i.Json.DeepClone() : null;
        }
    }

    /// <summary>The sshd of a running instance.</summary>
    public TestSshd? Vm(string name)
    {
        lock (_lock)
        {
            return Find(name)?.Vm;
        }
    }

    public int Count(FakeCall call) => Requests.Count(r => r.Call == call);

    /// <summary>The next <paramref name="times"/> calls of <paramref name="call"/> fail with <paramref name="fault"/>.</summary>
    public void Fail(FakeCall call, FakeFault fault, int times = 1)
    {
        lock (_lock)
        {
            for (var i = 0; i < times; i++)
            {
                _faults.Add((call, fault));
            }
        }
    }

    /// <summary>
    /// Another credential the API accepts, whose service account lacks the permissions for
    /// <paramref name="denied"/>: those calls answer 403 forbidden, as they do for a worker whose
    /// service account is missing a role.
    /// </summary>
    public void AddAccount(string token, params FakeCall[] denied)
    {
        lock (_lock)
        {
            _accounts[token] = [.. denied];
        }
    }

    /// <summary>The account's missing roles are granted: nothing is denied to it any more.</summary>
    public void Grant(string token)
    {
        lock (_lock)
        {
            _accounts[token].Clear();
        }
    }

    /// <summary>Inserts in <paramref name="zone"/> end with this operation error code, as when a zone runs out of machines or quota.</summary>
    public void Exhaust(string zone, string code = "ZONE_RESOURCE_POOL_EXHAUSTED")
    {
        lock (_lock)
        {
            _exhaustedZones[zone] = code;
        }
    }

    /// <summary>The zone does not offer GPUs of <paramref name="type"/>, as each GPU is in some zones only.</summary>
    public void WithholdGpu(string zone, string type)
    {
        lock (_lock)
        {
            _withheldGpus.Add((zone, type));
        }
    }

    /// <summary>
    /// Compute Engine takes the VM back: its processes die, it goes TERMINATED, a preempted operation is recorded.
    /// Only a preemptible or Spot VM can be taken back, so a test can't preempt a VM the worker made standard.
    /// </summary>
    public void Preempt(string name)
    {
        lock (_lock)
        {
            var instance = Find(name) ?? throw new KeyNotFoundException(name);
            if (!IsPreemptibleOrSpot(instance.Json["scheduling"] as JsonObject))
            {
                throw new InvalidOperationException($"{name} is neither preemptible nor Spot: Compute Engine does not preempt it");
            }
            instance.Vm?.Dispose();
            instance.Vm = null;
            instance.Json["status"] = "TERMINATED";
            var zone = instance.Zone;
            var op = NewOperation(zone, "compute.instances.preempted", instance);
            op.Json["status"] = "DONE";
        }
    }

    /// <summary>The VM comes back with another host key on the same address, as a VM that took over the IP would.</summary>
    public async Task ReplaceHostKeyAsync(string name)
    {
        FakeInstance instance;
        lock (_lock)
        {
            instance = Find(name) ?? throw new KeyNotFoundException(name);
            instance.Vm?.Dispose();
            instance.Vm = null;
        }
        var vm = await BootAsync(instance, freshHostKey: true);
        lock (_lock)
        {
            instance.Vm = vm;
        }
    }

    /// <summary>
    /// Puts an instance into the project as if someone had created it (for cleanup tests); no VM is booted.
    /// <paramref name="metadata"/> items are the instance's metadata, as a managed instance group's <c>created-by</c>.
    /// </summary>
    public void Seed(string name, string zone, string status, IReadOnlyDictionary<string, string>? labels = null, DateTimeOffset? created = null,
        IReadOnlyDictionary<string, string>? metadata = null, string project = Project)
    {
        lock (_lock)
        {
            var items = new JsonArray();
            foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
            {
                items.Add(new JsonObject { ["key"] = key, ["value"] = value });
            }
            var body = new JsonObject { ["metadata"] = new JsonObject { ["kind"] = "compute#metadata", ["items"] = items } };
            var json = InstanceJson(project, name, zone, body, "10.0.0.1", created ?? DateTimeOffset.UtcNow);
            json["status"] = status;
            var l = new JsonObject();
            foreach (var (k, v) in labels ?? new Dictionary<string, string>())
            {
                l[k] = v;
            }
            json["labels"] = l;
            _instances[Key(project, zone, name)] = new FakeInstance(project, json, zone, "10.0.0.1", Path.Combine(_dir, name), []);
        }
    }

    /// <summary>
    /// A managed instance group, e.g. <c>("regions", "us-central1", "ci-worker-workers")</c>, holding
    /// <paramref name="targetSize"/> hosts, of which <paramref name="members"/> (instance names) are known to the fake.
    /// </summary>
    public void AddGroup(string scopeKind, string scope, string name, int targetSize, params string[] members)
    {
        lock (_lock)
        {
            _groups[name] = new FakeGroup(scopeKind, scope, name) { TargetSize = targetSize, Members = [.. members] };
        }
    }

    /// <summary>The group's target size now (another host leaving, or the autoscaler adding one, changes it).</summary>
    public int GroupTargetSize(string name)
    {
        lock (_lock)
        {
            return _groups[name].TargetSize;
        }
    }

    public void SetGroupTargetSize(string name, int size)
    {
        lock (_lock)
        {
            _groups[name].TargetSize = size;
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            foreach (var instance in _instances.Values)
            {
                instance.Vm?.Dispose();
            }
            _instances.Clear();
        }
        await LoopbackApp.StopAsync(_app);
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "";
        const string prefix = "/compute/v1/projects/";
        var segments = path.StartsWith(prefix, StringComparison.Ordinal) ? path[prefix.Length..].Split('/') : [];
        var call = Classify(request.Method, segments);
        Requests.Enqueue((DateTimeOffset.UtcNow, call, request.Method, path + request.QueryString));

        var authorization = request.Headers.Authorization.ToString();
        HashSet<FakeCall>? denied;
        lock (_lock)
        {
            denied = authorization.StartsWith("Bearer ", StringComparison.Ordinal) && _accounts.TryGetValue(authorization["Bearer ".Length..], out var d)
                ? [.. d]
                : null;
        }
        if (denied is null)
        {
            await ErrorAsync(context, 401, "authError", "Request had invalid authentication credentials.");
            return;
        }
        if (denied.Contains(call))
        {
            await ErrorAsync(context, 403, "forbidden", $"Required '{Permission(call)}' permission for '{path["/compute/v1/".Length..]}'");
            return;
        }
        if (segments.Length < 2 || segments[0] is not (Project or HostProject) || call == FakeCall.Any)
        {
            await ErrorAsync(context, 404, "notFound", $"The resource '{path}' was not found");
            return;
        }
        var fault = TakeFault(call);
        if (fault is not null)
        {
            switch (fault)
            {
                case FakeFault.Error e:
                    await ErrorAsync(context, e.Status, e.Reason, $"injected {e.Status} {e.Reason}");
                    return;
                case FakeFault.BadJson:
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync("{\"kind\": \"compute#operation\", \"name\": ");
                    return;
                case FakeFault.Hang h:
                    try
                    {
                        await Task.Delay(h.For, context.RequestAborted);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    break;
            }
        }
        var body = request.ContentLength > 0 || request.Method == "POST" && call is FakeCall.InsertInstance or FakeCall.DeleteGroupInstances
            ? await JsonNode.ParseAsync(request.Body) as JsonObject
            : null;
        if (body is not null)
        {
            Bodies.Enqueue((call, path, (JsonObject)body.DeepClone()));
        }
        if (fault is FakeFault.LandLate late)
        {
            var query = new QueryCollection(request.Query.ToDictionary(q => q.Key, q => q.Value));
            _ = Task.Run(async () =>
            {
                await Task.Delay(late.After);
                await AnswerAsync(call, segments, query, body);
            });
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
            return;
        }
        var (status, answer) = await AnswerAsync(call, segments, request.Query, body);
        if (fault is FakeFault.LoseAnswer)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMinutes(1), context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
            return;
        }
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer.ToJsonString());
    }

    private static FakeCall Classify(string method, string[] s) => (method, s) switch
    {
        ("POST", [_, "zones", _, "instances"]) => FakeCall.InsertInstance,
        ("GET", [_, "zones", _, "instances", _]) => FakeCall.GetInstance,
        ("DELETE", [_, "zones", _, "instances", _]) => FakeCall.DeleteInstance,
        ("GET", [_, "aggregated", "instances"]) => FakeCall.AggregatedInstances,
        ("GET", [_, "zones", _, "operations", _]) or ("POST", [_, "zones", _, "operations", _, "wait"]) => FakeCall.ZoneOperation,
        ("GET", [_, "aggregated", "operations"]) => FakeCall.AggregatedOperations,
        ("GET", [_, "zones"]) => FakeCall.ListZones,
        ("GET", [_, "zones", _]) => FakeCall.GetZone,
        ("GET", [_, "global", "images"]) => FakeCall.ListImages,
        ("GET", [_, "regions" or "zones", _, "instanceGroupManagers", _]) => FakeCall.GetGroup,
        ("POST", [_, "regions" or "zones", _, "instanceGroupManagers", _, "deleteInstances"]) => FakeCall.DeleteGroupInstances,
        _ => FakeCall.Any,
    };

    private async Task<(int, JsonObject)> AnswerAsync(FakeCall call, string[] s, IQueryCollection query, JsonObject? body)
    {
        switch (call)
        {
            case FakeCall.InsertInstance:
                return await InsertAsync(s[0], s[2], body, query["requestId"].ToString());
            case FakeCall.GetInstance:
                lock (_lock)
                {
                    return _instances.TryGetValue(Key(s[0], s[2], s[4]), out var i)
                        ? (200, (JsonObject)i.Json.DeepClone())
                        : NotFound($"projects/{s[0]}/zones/{s[2]}/instances/{s[4]}");
                }
            case FakeCall.DeleteInstance:
                return Delete(s[0], s[2], s[4], query["requestId"].ToString());
            case FakeCall.ZoneOperation:
                return await PollOperationAsync(s[2], s[4], wait: s.Length > 5);
            case FakeCall.AggregatedInstances:
                lock (_lock)
                {
                    var matches = _instances.Values.Where(i => i.Project == s[0] && Filter.Matches(query["filter"].ToString(), i.Json)).ToList();
                    return (200, Aggregated("compute#instanceAggregatedList", "instances", matches.Select(i => (i.Zone, (JsonNode)i.Json.DeepClone())).ToList(), query));
                }
            case FakeCall.AggregatedOperations:
                lock (_lock)
                {
                    var matches = _operations.Values.Where(o => Filter.Matches(query["filter"].ToString(), o.Json)).ToList();
                    return (200, Aggregated("compute#operationAggregatedList", "operations", matches.Select(o => (o.Zone, (JsonNode)o.Json.DeepClone())).ToList(), query));
                }
            case FakeCall.ListZones:
                return (200, new JsonObject { ["kind"] = "compute#zoneList", ["items"] = new JsonArray([.. Zones.Select(Zone)]) });
            case FakeCall.GetZone:
                return Zones.Contains(s[2]) ? (200, Zone(s[2])) : NotFound($"projects/{Project}/zones/{s[2]}");
            case FakeCall.ListImages:
                return (200, Images(query["filter"].ToString()));
            case FakeCall.GetGroup:
                lock (_lock)
                {
                    return FindGroup(s) is { } group ? (200, GroupJson(group)) : NotFound(string.Join('/', s));
                }
            case FakeCall.DeleteGroupInstances:
                return DeleteGroupInstances(s, body, query["requestId"].ToString());
            default:
                return NotFound(string.Join('/', s));
        }
    }

    private async Task<(int, JsonObject)> InsertAsync(string project, string zone, JsonObject? body, string requestId)
    {
        lock (_lock)
        {
            if (requestId.Length > 0 && _byRequestId.TryGetValue(requestId, out var earlier))
            {
                return (200, (JsonObject)earlier.Json.DeepClone()); // the retry of a call that got through
            }
        }
        var name = body?["name"]?.GetValue<string>();
        if (body is null || name is null || body["machineType"] is null || body["disks"]?[0]?["initializeParams"]?["sourceImage"] is null ||
            body["networkInterfaces"] is not JsonArray { Count: > 0 })
        {
            return BadRequest("Invalid value for field 'resource': name, machineType, disks[0].initializeParams.sourceImage and networkInterfaces are required.");
        }
        if (!Regex.IsMatch(name, "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"))
        {
            return BadRequest($"Invalid value for field 'resource.name': '{name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'");
        }
        foreach (var (key, value) in body["labels"] as JsonObject ?? [])
        {
            if (!Regex.IsMatch(key, "^[a-z][a-z0-9_-]{0,62}$") || !Regex.IsMatch(value?.GetValue<string>() ?? "", "^[a-z0-9_-]{0,63}$"))
            {
                return BadRequest($"Invalid value for field 'resource.labels': '{key}'");
            }
        }
        if ((SchedulingRefusal(body) ?? GpuRefusal(zone, body)) is { } refusal)
        {
            return refusal;
        }
        FakeOperation op;
        lock (_lock)
        {
            if (_instances.ContainsKey(Key(project, zone, name)))
            {
                return (409, ErrorBody(409, "alreadyExists", $"The resource 'projects/{project}/zones/{zone}/instances/{name}' already exists"));
            }
            if (_exhaustedZones.TryGetValue(zone, out var code))
            {
                // As on GCE: the insert is accepted, its operation ends with the error, and no instance remains.
                op = NewOperation(zone, "insert", null, name);
                op.Failure = code;
            }
            else
            {
                var address = Interlocked.Increment(ref s_nextAddress);
                var ip = $"127.{10 + address / 62500 % 200}.{address / 250 % 250}.{address % 250 + 2}";
                var json = InstanceJson(project, name, zone, body, ip, DateTimeOffset.UtcNow);
                var keys = (body["metadata"]?["items"] as JsonArray ?? [])
                    .Where(i => i?["key"]?.GetValue<string>() == "ssh-keys")
                    .SelectMany(i => (i!["value"]?.GetValue<string>() ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    .Where(line => line.StartsWith(VmUser + ":", StringComparison.Ordinal))
                    .Select(line => line[(VmUser.Length + 1)..])
                    .ToList();
                var instance = new FakeInstance(project, json, zone, ip, Path.Combine(_dir, name), keys);
                _instances[instance.Key] = instance;
                Created.Enqueue(name);
                op = NewOperation(zone, "insert", instance);
            }
            if (requestId.Length > 0)
            {
                _byRequestId[requestId] = op;
            }
            return (200, (JsonObject)op.Json.DeepClone());
        }
    }

    /// <summary>
    /// Compute Engine's checks of <c>scheduling</c> (API v1 <c>Scheduling</c>): a provisioning model
    /// and termination action it knows; a termination action only on a Spot VM; a preemptible VM
    /// provisioned SPOT if at all (Spot VMs may say preemptible too, as Google's own samples do). A
    /// preemptible or Spot VM is neither restarted nor live-migrated, so automaticRestart true or
    /// onHostMaintenance MIGRATE is a 400. The messages are the real API's; for a Spot VM the last two
    /// are modelled on the preemptible ones. Null: none fails.
    /// </summary>
    private static (int, JsonObject)? SchedulingRefusal(JsonObject body)
    {
        if (body["scheduling"] is not JsonObject scheduling)
        {
            return null;
        }
        var model = scheduling["provisioningModel"]?.GetValue<string>();
        var action = scheduling["instanceTerminationAction"]?.GetValue<string>();
        if (model is not (null or "STANDARD" or "SPOT" or "FLEX_START" or "RESERVATION_BOUND"))
        {
            return BadRequest($"Invalid value for field 'resource.scheduling.provisioningModel': '{model}'.");
        }
        if (action is not (null or "STOP" or "DELETE"))
        {
            return BadRequest($"Invalid value for field 'resource.scheduling.instanceTerminationAction': '{action}'.");
        }
        if (action is not null && model != "SPOT")
        {
            return BadRequest($"Invalid value for field 'resource.scheduling.instanceTerminationAction': '{action}'. "
                + "You cannot specify a termination action for a VM instance that has the standard provisioning model (default).");
        }
        var preemptible = scheduling["preemptible"]?.GetValue<bool>() == true;
        if (preemptible && model is not (null or "SPOT"))
        {
            return BadRequest($"Invalid value for field 'resource.scheduling.provisioningModel': '{model}'. For preemptible, only allowed provisioning_model value is SPOT");
        }
        if (!IsPreemptibleOrSpot(scheduling))
        {
            return null;
        }
        var (field, value, mustBe) = model == "SPOT" ? ("provisioningModel", "SPOT", "provisioningModel be STANDARD") : ("preemptible", "true", "preemptible be false");
        if (scheduling["automaticRestart"]?.GetValue<bool>() == true)
        {
            return BadRequest($"Invalid value for field 'resource.scheduling.{field}': '{value}'. Scheduling must have {mustBe} when AutomaticRestart is true.");
        }
        if (scheduling["onHostMaintenance"]?.GetValue<string>() is { } maintenance && maintenance != "TERMINATE")
        {
            return BadRequest($"Invalid value for field 'resource.scheduling.{field}': '{value}'. Scheduling must have {mustBe} when OnHostMaintenance isn't TERMINATE.");
        }
        return null;
    }

    /// <summary>Whether Compute Engine may take the VM back: it is preemptible, or Spot.</summary>
    private static bool IsPreemptibleOrSpot(JsonObject? scheduling) =>
        scheduling?["preemptible"]?.GetValue<bool>() == true || scheduling?["provisioningModel"]?.GetValue<string>() == "SPOT";

    /// <summary>
    /// Compute Engine's checks of <c>guestAccelerators</c>: each names a type of the VM's own zone (a
    /// full or partial URL) that the zone offers, with a count above 0; and a VM with GPUs can't be live
    /// migrated, so its onHostMaintenance (MIGRATE when unset) must be TERMINATE. Null: none fails.
    /// </summary>
    private (int, JsonObject)? GpuRefusal(string zone, JsonObject body)
    {
        if (body["guestAccelerators"] is not JsonArray { Count: > 0 } accelerators)
        {
            // A machine type with GPUs built in (A2, A3, G2) can't be live migrated either.
            var machineType = (body["machineType"]?.GetValue<string>() ?? "").Split('/')[^1];
            return machineType.Split('-')[0] is "a2" or "a3" or "g2"
                && (body["scheduling"]?["onHostMaintenance"]?.GetValue<string>() ?? "MIGRATE") != "TERMINATE"
                ? (400, ErrorBody(400, "badRequest", $"Instances with guest accelerators do not support live migration. Machine type {machineType} has accelerators."))
                : null;
        }
        for (var i = 0; i < accelerators.Count; i++)
        {
            var url = accelerators[i]?["acceleratorType"]?.GetValue<string>() ?? "";
            var match = Regex.Match(url, "(?:^|/)zones/(?<zone>[a-z0-9-]+)/acceleratorTypes/(?<type>[a-z0-9-]+)$");
            var type = match.Groups["type"].Value;
            bool offered;
            lock (_lock)
            {
                offered = match.Success && match.Groups["zone"].Value == zone && GpuTypes.Contains(type) && !_withheldGpus.Contains((zone, type));
            }
            if (!offered)
            {
                return BadRequest($"Invalid value for field 'resource.guestAccelerators[{i}].acceleratorType': '{url}'. Accelerator type '{type}' does not exist in zone {zone}.");
            }
            if (Number(accelerators[i]?["acceleratorCount"]) is not > 0)
            {
                return BadRequest($"Invalid value for field 'resource.guestAccelerators[{i}].acceleratorCount': '{accelerators[i]?["acceleratorCount"]}'. Accelerator count must be greater than 0.");
            }
        }
        if ((body["scheduling"]?["onHostMaintenance"]?.GetValue<string>() ?? "MIGRATE") != "TERMINATE")
        {
            return (400, ErrorBody(400, "badRequest", "Instances with guest accelerators do not support live migration."));
        }
        return null;

        static double? Number(JsonNode? node) => node is JsonValue v && double.TryParse(v.ToString(), CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    private (int, JsonObject) Delete(string project, string zone, string name, string requestId)
    {
        lock (_lock)
        {
            if (requestId.Length > 0 && _byRequestId.TryGetValue(requestId, out var earlier))
            {
                return (200, (JsonObject)earlier.Json.DeepClone());
            }
            if (!_instances.TryGetValue(Key(project, zone, name), out var instance))
            {
                return NotFound($"projects/{project}/zones/{zone}/instances/{name}");
            }
            instance.Vm?.Dispose();
            _instances.Remove(instance.Key);
            var op = NewOperation(zone, "delete", instance);
            if (requestId.Length > 0)
            {
                _byRequestId[requestId] = op;
            }
            return (200, (JsonObject)op.Json.DeepClone());
        }
    }

    /// <summary>Each poll moves an operation one step: PENDING, RUNNING, DONE. An insert is DONE once its VM answers.</summary>
    private FakeGroup? FindGroup(string[] s) =>
        _groups.TryGetValue(s[4], out var group) && group.ScopeKind == s[1] && group.Scope == s[2] ? group : null;

    private JsonObject GroupJson(FakeGroup group)
    {
        var scopeLink = $"{SelfLinkBase}projects/{Project}/{group.ScopeKind}/{group.Scope}";
        var json = new JsonObject
        {
            ["kind"] = "compute#instanceGroupManager",
            ["id"] = "7000000000000000001",
            ["creationTimestamp"] = "2026-11-01T08:00:00.000-07:00",
            ["name"] = group.Name,
            ["instanceTemplate"] = $"{SelfLinkBase}projects/{Project}/global/instanceTemplates/{group.Name}-20261101",
            ["instanceGroup"] = $"{scopeLink}/instanceGroups/{group.Name}",
            ["baseInstanceName"] = group.Name.Replace("-workers", "-worker", StringComparison.Ordinal),
            ["fingerprint"] = "ZmFrZS1ncm91cA==",
            ["currentActions"] = new JsonObject
            {
                ["none"] = Math.Max(0, group.TargetSize - group.Deleting), ["creating"] = 0, ["creatingWithoutRetries"] = 0, ["verifying"] = 0,
                ["recreating"] = 0, ["deleting"] = group.Deleting, ["abandoning"] = 0, ["restarting"] = 0, ["refreshing"] = 0,
            },
            ["status"] = new JsonObject { ["isStable"] = group.Deleting == 0 },
            ["targetSize"] = group.TargetSize,
            ["selfLink"] = $"{scopeLink}/instanceGroupManagers/{group.Name}",
        };
        json[group.ScopeKind == "regions" ? "region" : "zone"] = scopeLink;
        return json;
    }

    /// <summary>
    /// As GCE does: every instance must be the group's (named as a full or partial URL), or the call
    /// fails with nothing done (unless skipInstancesOnValidationError); the target size drops by one
    /// per instance, which the group then deletes.
    /// </summary>
    private (int, JsonObject) DeleteGroupInstances(string[] s, JsonObject? body, string requestId)
    {
        lock (_lock)
        {
            if (requestId.Length > 0 && _byRequestId.TryGetValue(requestId, out var earlier))
            {
                return (200, (JsonObject)earlier.Json.DeepClone());
            }
            if (FindGroup(s) is not { } group)
            {
                return NotFound(string.Join('/', s));
            }
            if (body?["instances"] is not JsonArray { Count: > 0 } urls)
            {
                return BadRequest("Invalid value for field 'resource.instances': ''. At least one instance must be specified.");
            }
            var skip = body["skipInstancesOnValidationError"]?.GetValue<bool>() == true;
            var names = new List<string>();
            foreach (var url in urls.Select(u => u?.GetValue<string>() ?? ""))
            {
                var match = Regex.Match(url, @"(?:^|/)zones/(?<zone>[a-z0-9-]+)/instances/(?<name>[a-z0-9-]+)$");
                var member = match.Success && group.Members.Contains(match.Groups["name"].Value)
                    && (Find(match.Groups["name"].Value) is not { } i || i.Zone == match.Groups["zone"].Value);
                if (member)
                {
                    names.Add(match.Groups["name"].Value);
                }
                else if (!skip)
                {
                    return BadRequest($"Invalid value for field 'resource.instances[0]': '{url}'. Instance is not a member of the instance group manager.");
                }
            }
            var zone = group.ScopeKind == "zones" ? group.Scope : FakeOperationScope;
            var op = NewOperation(zone, "compute.instanceGroupManagers.deleteInstances", null);
            op.Json["targetLink"] = $"{SelfLinkBase}projects/{Project}/{group.ScopeKind}/{group.Scope}/instanceGroupManagers/{group.Name}";
            op.Json["status"] = "DONE";
            if (group.ScopeKind == "regions")
            {
                op.Json.Remove("zone");
                op.Json["region"] = $"{SelfLinkBase}projects/{Project}/regions/{group.Scope}";
                op.Json["selfLink"] = $"{SelfLinkBase}projects/{Project}/regions/{group.Scope}/operations/{op.Json["name"]}";
            }
            foreach (var name in names)
            {
                group.Members.Remove(name);
                group.TargetSize--;
                group.Left.Add(name);
                if (Find(name) is { } instance)
                {
                    _instances.Remove(instance.Key);
                    instance.Vm?.Dispose();
                }
            }
            if (requestId.Length > 0)
            {
                _byRequestId[requestId] = op;
            }
            return (200, (JsonObject)op.Json.DeepClone());
        }
    }

    /// <summary>Instances that left a group through deleteInstances, in order.</summary>
    public IReadOnlyList<string> LeftGroup(string name)
    {
        lock (_lock)
        {
            return [.. _groups[name].Left];
        }
    }

    private const string FakeOperationScope = "regional";

    /// <summary>
    /// A get of an operation moves it one step (pending, running, done); a wait (zoneOperations.wait)
    /// returns once it is done, as the real one does within its two minutes.
    /// </summary>
    private async Task<(int, JsonObject)> PollOperationAsync(string zone, string name, bool wait)
    {
        FakeOperation? op;
        lock (_lock)
        {
            if (!_operations.TryGetValue(name, out op) || op.Zone != zone)
            {
                return NotFound($"projects/{Project}/zones/{zone}/operations/{name}");
            }
            var status = op.Json["status"]!.GetValue<string>();
            if (status == "PENDING" && !wait)
            {
                op.Json["status"] = "RUNNING";
                op.Json["progress"] = 50;
                return (200, (JsonObject)op.Json.DeepClone());
            }
            if (status == "DONE")
            {
                return (200, (JsonObject)op.Json.DeepClone());
            }
        }
        if (op.Target is { } instance && op.Json["operationType"]!.GetValue<string>() == "insert" && BootVms)
        {
            var vm = await BootAsync(instance);
            lock (_lock)
            {
                if (_instances.ContainsKey(instance.Key))
                {
                    instance.Vm = vm;
                }
                else
                {
                    vm.Dispose(); // deleted while booting
                }
            }
        }
        lock (_lock)
        {
            op.Json["status"] = "DONE";
            op.Json["progress"] = 100;
            op.Json["endTime"] = Now();
            if (op.Failure is { } code)
            {
                op.Json["error"] = new JsonObject
                {
                    ["errors"] = new JsonArray(new JsonObject
                    {
                        ["code"] = code,
                        ["message"] = $"The zone 'projects/{Project}/zones/{zone}' does not have enough resources available to fulfill the request.",
                    }),
                };
                op.Json["httpErrorStatusCode"] = 503;
            }
            else if (op.Target is { } target && op.Json["operationType"]!.GetValue<string>() == "insert")
            {
                target.Json["status"] = "RUNNING";
            }
            return (200, (JsonObject)op.Json.DeepClone());
        }
    }

    private FakeOperation NewOperation(string zone, string type, FakeInstance? target, string? targetName = null)
    {
        var id = Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        var name = $"operation-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}-{Guid.NewGuid():N}";
        var link = target?.Json["selfLink"]?.GetValue<string>() ?? $"{SelfLinkBase}projects/{Project}/zones/{zone}/instances/{targetName}";
        var json = new JsonObject
        {
            ["kind"] = "compute#operation",
            ["id"] = id,
            ["name"] = name,
            ["zone"] = $"{SelfLinkBase}projects/{Project}/zones/{zone}",
            ["operationType"] = type,
            ["targetLink"] = link,
            ["targetId"] = target?.Json["id"]?.GetValue<string>() ?? "0",
            ["status"] = "PENDING",
            ["user"] = "worker@test-project.iam.gserviceaccount.com",
            ["progress"] = 0,
            ["insertTime"] = Now(),
            ["startTime"] = Now(),
            ["selfLink"] = $"{SelfLinkBase}projects/{Project}/zones/{zone}/operations/{name}",
        };
        var op = new FakeOperation(json, zone, target);
        _operations[name] = op;
        return op;
    }

    private JsonObject InstanceJson(string project, string name, string zone, JsonObject body, string ip, DateTimeOffset created)
    {
        var json = (JsonObject)body.DeepClone();
        var zoneLink = $"{SelfLinkBase}projects/{project}/zones/{zone}";
        json["kind"] = "compute#instance";
        json["id"] = Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
        json["name"] = name;
        json["zone"] = zoneLink;
        json["status"] = "PROVISIONING";
        json["creationTimestamp"] = created.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
        json["selfLink"] = $"{zoneLink}/instances/{name}";
        if (json["machineType"]?.GetValue<string>() is { } type && !type.StartsWith("https://", StringComparison.Ordinal))
        {
            json["machineType"] = $"{SelfLinkBase}projects/{project}/{type}";
        }
        foreach (var accelerator in json["guestAccelerators"] as JsonArray ?? [])
        {
            if (accelerator?["acceleratorType"]?.GetValue<string>() is { } gpuType && !gpuType.StartsWith("https://", StringComparison.Ordinal))
            {
                accelerator["acceleratorType"] = $"{SelfLinkBase}projects/{project}/{gpuType}";
            }
        }
        var nic = json["networkInterfaces"]?[0] as JsonObject ?? [];
        nic["networkIP"] = ip;
        nic["name"] = "nic0";
        foreach (var access in nic["accessConfigs"] as JsonArray ?? [])
        {
            access!["natIP"] = ip;
        }
        json["networkInterfaces"] = new JsonArray(nic.DeepClone());
        json["metadata"] ??= new JsonObject();
        json["metadata"]!["fingerprint"] = "fake-fingerprint";
        json["labels"] ??= new JsonObject();
        return json;
    }

    /// <summary>An aggregated list page: items keyed by <c>zones/NAME</c>; zones without items carry the API's warning. Two items a page.</summary>
    private JsonObject Aggregated(string kind, string field, List<(string Zone, JsonNode Item)> matches, IQueryCollection query)
    {
        const int pageSize = 2;
        var offset = int.TryParse(query["pageToken"], CultureInfo.InvariantCulture, out var o) ? o : 0;
        var page = matches.OrderBy(m => m.Item["name"]?.GetValue<string>(), StringComparer.Ordinal).Skip(offset).Take(pageSize).ToList();
        var items = new JsonObject();
        foreach (var zone in Zones)
        {
            var inZone = page.Where(m => m.Zone == zone).Select(m => m.Item).ToArray();
            items[$"zones/{zone}"] = inZone.Length > 0
                ? new JsonObject { [field] = new JsonArray(inZone) }
                : new JsonObject
                {
                    ["warning"] = new JsonObject
                    {
                        ["code"] = "NO_RESULTS_ON_PAGE",
                        ["message"] = $"There are no results for scope 'zones/{zone}' on this page.",
                        ["data"] = new JsonArray(new JsonObject { ["key"] = "scope", ["value"] = $"zones/{zone}" }),
                    },
                };
        }
        var answer = new JsonObject { ["kind"] = kind, ["id"] = $"projects/{Project}/aggregated/{field}", ["items"] = items };
        if (offset + pageSize < matches.Count)
        {
            answer["nextPageToken"] = (offset + pageSize).ToString(CultureInfo.InvariantCulture);
        }
        return answer;
    }

    private static JsonObject Images(string filter)
    {
        var all = new[]
        {
            ("travis-ci-bookworm-1700000000", "2023-11-14T22:13:20.000-08:00"),
            ("travis-ci-bookworm-1800000000", "2027-01-15T08:00:00.000-08:00"),
            ("travis-ci-jammy-1750000000", "2025-06-15T08:00:00.000-08:00"),
            ("debian-12-bookworm-v20260101", "2026-01-01T00:00:00.000-08:00"),
        };
        var items = new JsonArray();
        foreach (var (name, created) in all)
        {
            if (Filter.Matches(filter, new JsonObject { ["name"] = name }))
            {
                items.Add(new JsonObject
                {
                    ["kind"] = "compute#image",
                    ["name"] = name,
                    ["status"] = "READY",
                    ["creationTimestamp"] = created,
                    ["selfLink"] = $"{SelfLinkBase}projects/{Project}/global/images/{name}",
                });
            }
        }
        return new JsonObject { ["kind"] = "compute#imageList", ["items"] = items };
    }

    private static JsonObject Zone(string zone) => new()
    {
        ["kind"] = "compute#zone",
        ["name"] = zone,
        ["region"] = $"{SelfLinkBase}projects/{Project}/regions/{zone[..zone.LastIndexOf('-')]}",
        ["status"] = zone == "us-central1-c" ? "DOWN" : "UP",
        ["selfLink"] = $"{SelfLinkBase}projects/{Project}/zones/{zone}",
    };

    /// <summary>The IAM permission a call needs, as GCE names it in a 403.</summary>
    private static string Permission(FakeCall call) => call switch
    {
        FakeCall.InsertInstance => "compute.instances.create",
        FakeCall.GetInstance => "compute.instances.get",
        FakeCall.DeleteInstance => "compute.instances.delete",
        FakeCall.AggregatedInstances => "compute.instances.list",
        FakeCall.ZoneOperation => "compute.zoneOperations.get",
        FakeCall.AggregatedOperations => "compute.globalOperations.list",
        FakeCall.ListZones => "compute.zones.list",
        FakeCall.GetZone => "compute.zones.get",
        FakeCall.ListImages => "compute.images.list",
        _ => "compute.projects.get",
    };

    private FakeFault? TakeFault(FakeCall call)
    {
        lock (_lock)
        {
            var index = _faults.FindIndex(f => f.Call == call || f.Call == FakeCall.Any);
            if (index < 0)
            {
                return null;
            }
            var fault = _faults[index].Fault;
            _faults.RemoveAt(index);
            return fault;
        }
    }

    private static (int, JsonObject) NotFound(string what) => (404, ErrorBody(404, "notFound", $"The resource '{what}' was not found"));

    private static (int, JsonObject) BadRequest(string message) => (400, ErrorBody(400, "invalid", message));

    private static JsonObject ErrorBody(int status, string reason, string message) => new()
    {
        ["error"] = new JsonObject
        {
            ["code"] = status,
            ["message"] = message,
            ["errors"] = new JsonArray(new JsonObject { ["domain"] = status == 429 || reason.Contains("RateLimit", StringComparison.OrdinalIgnoreCase) ? "usageLimits" : "global", ["reason"] = reason, ["message"] = message }),
        },
    };

    private static Task ErrorAsync(HttpContext context, int status, string reason, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(ErrorBody(status, reason, message).ToJsonString());
    }

    private static string Now() => DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);

    /// <summary>The VM's sshd on its own address, its root's home the VM's own; only the keys from its ssh-keys metadata open it.</summary>
    private Task<TestSshd> BootAsync(FakeInstance instance, bool freshHostKey = false) =>
        TestSshd.StartAsync(new TestSshdOptions(instance.Dir, SshPort)
        {
            Ip = instance.Ip,
            User = VmUser,
            AuthorizedKeys = instance.AuthorizedKeys,
            FreshHostKey = freshHostKey,
        });

    private static string Key(string project, string zone, string name) => $"{project}/{zone}/{name}";

    /// <summary>An instance by its name alone, as the tests name them: in the job project first.</summary>
    private FakeInstance? Find(string name) =>
        _instances.Values.Where(i => i.Name == name).OrderBy(i => i.Project == Project ? 0 : 1).FirstOrDefault();

    private sealed class FakeInstance(string project, JsonObject json, string zone, string ip, string dir, IReadOnlyList<string> authorizedKeys)
    {
        public string Project { get; } = project;
        public string Name => Json["name"]!.GetValue<string>();
        public string Key => FakeComputeApi.Key(Project, Zone, Name);
        public JsonObject Json { get; } = json;
        public string Zone { get; } = zone;
        public string Ip { get; } = ip;
        public string Dir { get; } = dir;
        public IReadOnlyList<string> AuthorizedKeys { get; } = authorizedKeys;
        public TestSshd? Vm { get; set; }
    }

    private sealed class FakeGroup(string scopeKind, string scope, string name)
    {
        public string ScopeKind { get; } = scopeKind;
        public string Scope { get; } = scope;
        public string Name { get; } = name;
        public int TargetSize { get; set; }
        public int Deleting { get; set; }
        public HashSet<string> Members { get; init; } = [];
        public List<string> Left { get; } = [];
    }

    private sealed class FakeOperation(JsonObject json, string zone, FakeInstance? target)
    {
        public JsonObject Json { get; } = json;
        public string Zone { get; } = zone;
        public FakeInstance? Target { get; } = target;
        public string? Failure { get; set; }
    }

    /// <summary>
    /// The Compute filter expressions the callers send: <c>field = "value"</c> (also on
    /// <c>labels.KEY</c>), and the older <c>field eq regex</c>; several parenthesized ones AND-ed.
    /// </summary>
    private static class Filter
    {
        public static bool Matches(string filter, JsonNode item)
        {
            if (string.IsNullOrWhiteSpace(filter))
            {
                return true;
            }
            var legacy = Regex.Match(filter, @"^\s*(\w+)\s+eq\s+(.+?)\s*$");
            if (legacy.Success)
            {
                return Regex.IsMatch(Field(item, legacy.Groups[1].Value) ?? "", $"^(?:{legacy.Groups[2].Value})$");
            }
            var clauses = Regex.Matches(filter, "\\(?\\s*([\\w.-]+)\\s*(=|!=)\\s*\"([^\"]*)\"\\s*\\)?");
            if (clauses.Count == 0)
            {
                throw new FormatException($"filter the fake does not understand: {filter}");
            }
            return clauses.All(c => (Field(item, c.Groups[1].Value) == c.Groups[3].Value) == (c.Groups[2].Value == "="));
        }

        private static string? Field(JsonNode item, string path)
        {
            JsonNode? node = item;
            if (path.StartsWith("labels.", StringComparison.Ordinal))
            {
                return item["labels"]?[path["labels.".Length..]]?.GetValue<string>();
            }
            foreach (var part in path.Split('.'))
            {
                node = node?[part];
            }
            return node is JsonValue v ? v.ToString() : null;
        }
    }
}
