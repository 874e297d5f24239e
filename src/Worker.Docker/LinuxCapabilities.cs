namespace Worker.Docker;

/// <summary>
/// The capability names <c>docker run --cap-drop</c> takes (capabilities(7), without <c>CAP_</c>),
/// so a typo in <c>WORKER_DOCKER_CAP_DROP</c> stops start-up instead of failing every container create.
/// </summary>
public static class LinuxCapabilities
{
    public const string All = "ALL";

    public static readonly IReadOnlySet<string> Names = new HashSet<string>(StringComparer.Ordinal)
    {
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    };

    /// <summary>The name as Docker takes it (upper case, no <c>CAP_</c>), or null when it names no capability.</summary>
    public static string? Normalize(string name)
    {
        var upper = name.Trim().ToUpperInvariant();
        if (upper.StartsWith("CAP_", StringComparison.Ordinal))
        {
            upper = upper[4..];
        }
        return upper == All || Names.Contains(upper) ? upper : null;
    }
}
