using System.Text.Json.Nodes;
using Worker.Core.Hosting;

namespace Worker.Gce.Hosting;

/// <summary>
/// This host's managed instance group over the Compute API: its target size from the group manager,
/// and leaving it with <c>deleteInstances</c> on this host's own instance, which lowers the target
/// size (so the group doesn't replace the host) and then deletes the instance.
/// </summary>
public sealed class GceHostGroup(ComputeClient compute, GceHost host, InstanceGroupPath group) : IHostGroup
{
    public string Name => group.ToString();

    public async Task<int> TargetSizeAsync(CancellationToken ct) =>
        (await compute.GetAsync<ComputeInstanceGroupManager>(group.ApiPath(compute.Project), ct)).TargetSize;

    public async Task LeaveAsync(CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["instances"] = new JsonArray($"zones/{host.Zone}/instances/{host.InstanceName}"),
            // One instance: a validation error (it is not in the group) must fail the call, not be skipped.
            ["skipInstancesOnValidationError"] = false,
        };
        var operation = await compute.MutateAsync(HttpMethod.Post, group.ApiPath(compute.Project) + "/deleteInstances", body, Guid.NewGuid(), ct);
        if (operation.Error?.Errors is { Count: > 0 } errors)
        {
            throw new ComputeApiException(409, errors.Select(e => e.Code ?? "").ToList(),
                $"deleteInstances on {Name}: " + string.Join("; ", errors.Select(e => $"{e.Code}: {e.Message}")));
        }
    }
}
