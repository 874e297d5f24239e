using System.Globalization;

namespace Worker.Core.Backends;

/// <summary>
/// The labels every machine gets, so cleanup decides from facts, never from names: which fleet made
/// it, for which job, on which worker host, when, and after which moment no live job can own it.
/// Keys and values fit GCE's label rules (lower case, digits, '-' and '_', at most 63 characters).
/// </summary>
public sealed class MachineLabels(string fleet, string workerHost, TimeSpan deadlineMargin, TimeProvider? clock = null)
{
    public const string Fleet = "worker-fleet";
    public const string JobId = "worker-job-id";
    public const string Host = "worker-host";
    public const string CreatedAt = "worker-created";
    public const string Deadline = "worker-deadline";
    public const string Standby = "worker-standby";

    /// <summary>
    /// The machine the worker host itself runs on, as its backend's directory of hosts names it (e.g.
    /// the worker's GCE instance). Set by a backend only when it knows it; the cleanup sidecar deletes
    /// a machine for a gone host only by this label, never by <see cref="Host"/>, which is free text.
    /// </summary>
    public const string HostMachine = "worker-host-machine";

    /// <summary>
    /// Where <see cref="HostMachine"/> is, when its backend names machines per project and zone (GCE):
    /// a name alone may be taken by another host elsewhere, and a host in a project cleanup does not
    /// list can't be told gone.
    /// </summary>
    public const string HostProject = "worker-host-project";

    /// <inheritdoc cref="HostProject"/>
    public const string HostZone = "worker-host-zone";

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public string FleetName { get; } = Sanitize(fleet);
    public string WorkerHost { get; } = Sanitize(workerHost);

    /// <summary>Added to the hard timeout: covers boot, upload, teardown and clock skew.</summary>
    public TimeSpan DeadlineMargin { get; } = deadlineMargin;

    public IReadOnlyDictionary<string, string> For(long jobId, TimeSpan hardTimeout)
    {
        var now = _clock.GetUtcNow();
        return new Dictionary<string, string>
        {
            [Fleet] = FleetName,
            [JobId] = jobId.ToString(CultureInfo.InvariantCulture),
            [Host] = WorkerHost,
            [CreatedAt] = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            [Deadline] = (now + hardTimeout + DeadlineMargin).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Lower case, only [a-z0-9_-], at most 63 characters, as GCE requires.</summary>
    public static string Sanitize(string value)
    {
        var chars = value.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' ? c : '-').ToArray();
        var text = new string(chars);
        return text.Length > 63 ? text[..63] : text;
    }
}
