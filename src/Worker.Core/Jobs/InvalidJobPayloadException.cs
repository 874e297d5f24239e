namespace Worker.Core.Jobs;

/// <summary>A payload the worker can't run; the transport dead-letters it with this message.</summary>
public sealed class InvalidJobPayloadException(string message, Exception? inner = null) : Exception(message, inner);
