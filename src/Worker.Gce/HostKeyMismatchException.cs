namespace Worker.Gce;

/// <summary>The VM presented another host key than at first contact; nothing is sent to it.</summary>
public sealed class HostKeyMismatchException(string message, Exception inner) : Exception(message, inner);
