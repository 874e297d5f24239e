namespace Worker.Gce;

/// <summary>No zone of the region could take the VM (capacity or quota); the job is requeued.</summary>
public sealed class ZonesExhaustedException(string message) : Exception(message);
