namespace Worker.Gce.Hosting;

/// <summary>
/// The GCE instance this worker runs on, as Cloud Monitoring's <c>gce_instance</c> resource names it
/// (project, zone, instance id) and the Compute API finds it (zone, name), and the managed instance
/// group it is in, if any.
/// </summary>
public sealed record GceHost(string Project, string Zone, string InstanceName, string InstanceId, InstanceGroupPath? Group)
{
    /// <summary>
    /// Asks the metadata server; null off GCE. <see cref="GceHostOptions.Group"/> and
    /// <c>WORKER_GCE_HOST_INSTANCE</c> take precedence over what the metadata says.
    /// </summary>
    public static GceHost? Discover(GceHostOptions options, GceOptions gce)
    {
        if (!GceMetadata.IsOnGce())
        {
            return null;
        }
        var project = gce.Project ?? GceMetadata.Get("project/project-id");
        var zone = GceMetadata.Get("instance/zone") is { } zonePath ? zonePath[(zonePath.LastIndexOf('/') + 1)..] : null;
        var name = gce.HostInstance ?? GceMetadata.Get("instance/name");
        var id = GceMetadata.Get("instance/id");
        if (project is null || zone is null || name is null || id is null)
        {
            return null;
        }
        var group = options.Group ?? (GceMetadata.Get("instance/attributes/created-by") is { } createdBy ? InstanceGroupPath.TryParse(createdBy) : null);
        return new GceHost(project, zone, name, id, group);
    }
}
