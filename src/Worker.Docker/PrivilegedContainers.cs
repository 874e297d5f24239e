using Worker.Core.Configuration;

namespace Worker.Docker;

/// <summary>Which job containers are privileged (<c>WORKER_DOCKER_PRIVILEGED</c>).</summary>
public enum PrivilegedContainers
{
    /// <summary>None; a job asking for it is refused.</summary>
    Never,

    /// <summary>Those whose job asks (<c>config.privileged</c>).</summary>
    OnRequest,

    /// <summary>Every one, as travis-worker's <c>DOCKER_PRIVILEGED=true</c> made them (jobs from travis-scheduler never ask).</summary>
    Always,
}

public static class PrivilegedContainersSetting
{
    public const string OnRequestText = "ask";

    public static Setting<PrivilegedContainers> Create(string key) => new(key, PrivilegedContainers.Never,
        "Which job containers are privileged: true, every one (as travis-worker's DOCKER_PRIVILEGED); ask, those whose job asks (config.privileged); false, none (a job asking is refused).",
        $"true, {OnRequestText} or false",
        text => text.Trim().ToLowerInvariant() switch
        {
            OnRequestText => (true, PrivilegedContainers.OnRequest),
            _ when Setting.TryParseBool(text, out var every) => (true, every ? PrivilegedContainers.Always : PrivilegedContainers.Never),
            _ => (false, PrivilegedContainers.Never),
        },
        mode => mode switch
        {
            PrivilegedContainers.Always => "true",
            PrivilegedContainers.OnRequest => OnRequestText,
            _ => "false",
        });
}
