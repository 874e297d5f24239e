using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Jobs;

namespace Worker.Gce;

/// <summary>
/// The zones a job's VM may go to, in the order they are tried: the configured ones, then the rest
/// of the region; or the one zone the job's <c>vm_config.zone</c> names, when it is the region's.
/// The project's zones are listed once, when first needed.
/// </summary>
public sealed class GceZones(ComputeClient compute, GceOptions options, ILogger logger)
{
    private IReadOnlyList<ComputeZone>? _project;
    private IReadOnlyList<string>? _restOfRegion;

    /// <summary>
    /// The configured zones in a random order (so VMs spread over them), then the region's other
    /// zones that are UP, in name order.
    /// </summary>
    public async Task<IReadOnlyList<string>> ToTryAsync(CancellationToken ct)
    {
        var configured = options.ZoneNames.ToArray();
        Random.Shared.Shuffle(configured);
        IReadOnlyList<ComputeZone> listed;
        try
        {
            listed = await ProjectAsync(ct);
        }
        catch (ComputeApiException e)
        {
            logger.LogWarning("Could not list the zones of {Region} ({Error}); this job only tries {Zones}", options.RegionName, e.Message,
                string.Join(", ", configured));
            return configured;
        }
        // Made once from the kept listing, as the listing is: not again on every job.
        _restOfRegion ??= [.. listed
            .Where(zone => RegionOf(zone) == options.RegionName && zone.Status is null or "UP" && !options.ZoneNames.Contains(zone.Name))
            .Select(zone => zone.Name)
            .Order(StringComparer.Ordinal)];
        return [.. configured, .. _restOfRegion];
    }

    /// <summary>
    /// The zone a job's <c>vm_config.zone</c> names, when this worker may put VMs there: one of its
    /// configured zones, or another zone Compute Engine lists in its region. A payload chooses among
    /// the zones, not the region: the operator's network, subnetwork and quota are the region's. Its
    /// status when listed is not looked at: the listing is kept, and the insert's answer is fresher.
    /// </summary>
    /// <exception cref="JobRefusedException">A zone of another region, or one Compute Engine does not list.</exception>
    public async Task<string> RequestedAsync(string zone, CancellationToken ct)
    {
        if (options.ZoneNames.Contains(zone))
        {
            return zone;
        }
        IReadOnlyList<ComputeZone> listed;
        try
        {
            listed = await ProjectAsync(ct);
        }
        catch (ComputeApiException e) when (e.Status == 403 && e.IsHostLevel)
        {
            // Not this host's failure: jobs that name no zone start without the listing; another worker may be allowed to list.
            throw BackendFailureException.Capacity($"can't tell whether vm_config.zone {zone} is in region {options.RegionName}: {e.Message}", e);
        }
        var known = listed.FirstOrDefault(z => z.Name == zone);
        if (known is not null && RegionOf(known) == options.RegionName)
        {
            return zone;
        }
        throw new JobRefusedException(known is null
            ? $"vm_config.zone {zone} is no zone Compute Engine lists in project {compute.Project}; this worker uses region {options.RegionName}"
            : $"vm_config.zone {zone} is in region {RegionOf(known)}; this worker uses region {options.RegionName}");
    }

    /// <summary>The project's zones, listed once; a failed listing is not kept, so the next job asks again.</summary>
    private async Task<IReadOnlyList<ComputeZone>> ProjectAsync(CancellationToken ct)
    {
        if (_project is null)
        {
            var zones = new List<ComputeZone>();
            await foreach (var zone in compute.ListAsync<ComputeZone>($"projects/{compute.Project}/zones", null, ct))
            {
                zones.Add(zone);
            }
            _project = zones;
        }
        return _project;
    }

    /// <summary>The region's name from the zone's region URL.</summary>
    private static string? RegionOf(ComputeZone zone) => zone.Region?[(zone.Region.LastIndexOf('/') + 1)..];
}
