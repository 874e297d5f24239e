using Microsoft.Extensions.Logging;
using Worker.Core.Registration;

namespace Worker.Core.Backends.Local;

/// <summary>The bare-metal backend (<c>WORKER_PROVIDER_NAME=local</c>). Its working directories go with their job, so there is nothing for cleanup.</summary>
public static class LocalRegistration
{
    public static BackendRegistration Backend { get; } = new()
    {
        Name = "local",
        SettingsTitle = "Local backend (bare metal)",
        Settings = LocalOptions.All,
        CreateBackend = services => new LocalBackend(services.Options, LocalOptions.Load(services.Settings), services.Loggers.CreateLogger<LocalBackend>()),
    };
}
