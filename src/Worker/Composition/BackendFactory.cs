using Worker.Core.Backends;
using Worker.Core.Backends.Fake;
using Worker.Core.Backends.Local;
using Worker.Core.Configuration;

namespace Worker.Composition;

/// <summary>Builds the backend named by <c>WORKER_PROVIDER_NAME</c> (or <c>--backend</c>). A new backend adds a case.</summary>
public static class BackendFactory
{
    public static IReadOnlyList<string> Names { get; } = ["local", "fake", "docker", "gce"];

    public static IBackend Create(string name, WorkerContext context) => name switch
    {
        "local" => new LocalBackend(context.Options, LocalOptions.Load(context.Settings)),
        "fake" => new FakeBackend(FakeOptions.Load(context.Settings)),
        "docker" => Worker.Docker.DockerRegistration.CreateBackend(context.Settings, context.Labels, context.LoggerFactory),
        "gce" => Worker.Gce.GceRegistration.CreateBackend(context.Settings, context.LoggerFactory),
        _ => throw new InvalidSettingException(
            context.Settings.Find(WorkerOptions.ProviderName.Key)?.Variable ?? "WORKER_PROVIDER_NAME", name,
            "one of " + string.Join(", ", Names)),
    };
}
