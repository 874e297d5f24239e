namespace Worker.Gce;

/// <summary>The VM already holds a build script: it ran another job before, so this job must not use it.</summary>
public sealed class StaleVmException(string message) : Exception(message);
