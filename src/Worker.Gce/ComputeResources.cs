using System.Text.Json.Serialization;

namespace Worker.Gce;

// The parts of the Compute API v1 resources this backend reads, as the API sends them (camelCase JSON).

public sealed record ComputeOperation(
    string Name,
    string Status,
    string? Zone = null,
    string? OperationType = null,
    string? TargetLink = null,
    string? TargetId = null,
    ComputeOperationError? Error = null)
{
    public bool IsDone => Status == "DONE";
}

public sealed record ComputeOperationError(IReadOnlyList<ComputeErrorItem>? Errors);

public sealed record ComputeErrorItem(string? Code, string? Message, string? Reason = null);

public sealed record ComputeInstance(
    string Name,
    string Status,
    string? Id = null,
    string? Zone = null,
    string? CreationTimestamp = null,
    string? SelfLink = null,
    IReadOnlyDictionary<string, string>? Labels = null,
    IReadOnlyList<ComputeNetworkInterface>? NetworkInterfaces = null,
    ComputeMetadata? Metadata = null)
{
    /// <summary>The managed instance group that created this instance (its <c>created-by</c> metadata), if one did.</summary>
    public string? CreatedBy => Metadata?.Items?.FirstOrDefault(i => i.Key == "created-by")?.Value is { Length: > 0 } by
        && by.Contains("/instanceGroupManagers/", StringComparison.Ordinal) ? by : null;
}

public sealed record ComputeMetadata(IReadOnlyList<ComputeMetadataItem>? Items);

public sealed record ComputeMetadataItem(string Key, string? Value);

public sealed record ComputeNetworkInterface(
    [property: JsonPropertyName("networkIP")] string? NetworkIp,
    IReadOnlyList<ComputeAccessConfig>? AccessConfigs);

public sealed record ComputeAccessConfig([property: JsonPropertyName("natIP")] string? NatIp);

public sealed record ComputeZone(string Name, string? Region = null, string? Status = null);

public sealed record ComputeImage(string Name, string? SelfLink = null, string? CreationTimestamp = null, string? Status = null);

/// <summary>A page of a list call: <c>items</c> and <c>nextPageToken</c>.</summary>
public sealed record ComputeList<T>(IReadOnlyList<T>? Items, string? NextPageToken);

/// <summary>A page of an aggregated list call: <c>items</c> keyed by scope (<c>zones/us-central1-a</c>).</summary>
public sealed record ComputeAggregatedList(IReadOnlyDictionary<string, ComputeScopedList>? Items, string? NextPageToken);

public sealed record ComputeScopedList(IReadOnlyList<ComputeInstance>? Instances, IReadOnlyList<ComputeOperation>? Operations);

/// <summary>A managed instance group (regionInstanceGroupManagers / instanceGroupManagers get): its target size and what it is doing.</summary>
public sealed record ComputeInstanceGroupManager(string Name, int TargetSize, ComputeGroupActions? CurrentActions = null, string? SelfLink = null);

/// <summary>How many of a group's instances are in each action (<c>currentActions</c>).</summary>
public sealed record ComputeGroupActions(int None = 0, int Creating = 0, int Deleting = 0, int Recreating = 0);
