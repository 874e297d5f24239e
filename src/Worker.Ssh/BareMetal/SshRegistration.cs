using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Registration;

namespace Worker.Ssh.BareMetal;

/// <summary>
/// The SSH backend (<c>WORKER_PROVIDER_NAME=ssh</c>), built from <c>WORKER_SSH_*</c>. Its job
/// directories go with their job (or with the host's next job), so there is nothing for cleanup.
/// </summary>
public static class SshRegistration
{
    public static BackendRegistration Backend { get; } = new()
    {
        Name = "ssh",
        SettingsTitle = "SSH backend (existing hosts, one job each)",
        Settings = SshOptions.All,
        CreateBackend = services => CreateBackend(services.Settings, services.Loggers),
        CheckSettings = settings => SshOptions.Load(settings),
    };

    /// <summary>Reads and checks <c>WORKER_SSH_*</c>: a missing or unusable setting stops start-up with one line naming it.</summary>
    public static SshBackend CreateBackend(SettingsSource settings, ILoggerFactory loggers) =>
        new(SshOptions.Load(settings), loggers.CreateLogger<SshBackend>());
}
