using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;

namespace Worker.Ssh.BareMetal;

/// <summary>The SSH backend (<c>WORKER_PROVIDER_NAME=ssh</c>), built from <c>WORKER_SSH_*</c>.</summary>
public static class SshRegistration
{
    public const string Name = "ssh";

    /// <summary>Reads and checks <c>WORKER_SSH_*</c>: a missing or unusable setting stops start-up with one line naming it.</summary>
    public static SshBackend CreateBackend(SettingsSource settings, ILoggerFactory loggers) =>
        new(SshOptions.Load(settings), loggers.CreateLogger<SshBackend>());
}
