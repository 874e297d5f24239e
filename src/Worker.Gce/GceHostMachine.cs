using Worker.Core.Backends;

namespace Worker.Gce;

/// <summary>
/// The GCE instance a worker runs on, as its job VMs' labels name it: project, zone and name (a
/// name is unique only within a project's zone). The cleanup sidecar finds the hosts in
/// <see cref="ProjectOf"/> and deletes a job VM for a gone host only when the VM names a host there.
/// </summary>
public sealed record GceHostMachine(string Project, string? Zone, string Name)
{
    /// <summary>The host from the settings, else from the metadata server; null when this worker is not on GCE and none is set.</summary>
    public static GceHostMachine? Resolve(GceOptions options, string jobProject)
    {
        var name = options.HostInstance ?? GceMetadata.Get("instance/name");
        if (name is null)
        {
            return null;
        }
        var zone = options.HostZone ?? (GceMetadata.Get("instance/zone") is { } path ? path[(path.LastIndexOf('/') + 1)..] : null);
        return new GceHostMachine(ProjectOf(options, jobProject), zone, name);
    }

    /// <summary>Where the worker hosts run: <c>WORKER_GCE_HOST_PROJECT</c>, else the metadata server's project, else the job project.</summary>
    public static string ProjectOf(GceOptions options, string jobProject) =>
        options.HostProject ?? GceMetadata.Get("project/project-id") ?? jobProject;

    /// <summary>The labels a job VM of this host carries, sanitized as GCE wants them.</summary>
    public IEnumerable<KeyValuePair<string, string>> Labels()
    {
        yield return new(MachineLabels.HostMachine, MachineLabels.Sanitize(Name));
        yield return new(MachineLabels.HostProject, MachineLabels.Sanitize(Project));
        if (Zone is not null)
        {
            yield return new(MachineLabels.HostZone, MachineLabels.Sanitize(Zone));
        }
    }
}
