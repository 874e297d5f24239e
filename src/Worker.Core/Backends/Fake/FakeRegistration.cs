using Worker.Core.Registration;

namespace Worker.Core.Backends.Fake;

/// <summary>The fake backend (<c>WORKER_PROVIDER_NAME=fake</c>), for tests, benchmarks and trying the worker out.</summary>
public static class FakeRegistration
{
    public static BackendRegistration Backend { get; } = new()
    {
        Name = "fake",
        SettingsTitle = "Fake backend (tests, benchmarks)",
        Settings = FakeOptions.All,
        CreateBackend = services => new FakeBackend(FakeOptions.Load(services.Settings)),
    };
}
