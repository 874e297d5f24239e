using Worker.Core.Backends;

namespace Worker.Gce;

/// <summary>No zone of the region could take the VM (capacity or quota): a capacity failure, so the job is requeued.</summary>
public sealed class ZonesExhaustedException(string message) : BackendFailureException(FailureKind.Capacity, message);
