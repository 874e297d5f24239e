using Docker.DotNet;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Registration;

namespace Worker.Docker;

/// <summary>The Docker backend (<c>WORKER_PROVIDER_NAME=docker</c>): its settings, and the backend and inventory built from them.</summary>
public static class DockerRegistration
{
    public static BackendRegistration Backend { get; } = new()
    {
        Name = "docker",
        SettingsTitle = "Docker backend (a container per job) and its job policy",
        Settings = DockerOptions.All,
        CreateBackend = services => CreateBackend(services.Settings, services.Options.BaseDirectory, services.Labels, services.Loggers),
        CheckSettings = settings => DockerOptions.Load(settings),
        // An engine can't tell whether the worker host named in a label still lives (hosts may set
        // WORKER_HOSTNAME freely or share the engine), so on Docker a missing host never decides.
        CreateInventory = services => new CleanupInventory(CreateInventory(services.Settings), Hosts: null),
        KeyPrefixes = [DockerOptions.ImageMappingPrefix],
        TravisOnlySettings = new Dictionary<string, string>
        {
            ["DOCKER_EXEC_CMD"] = "the script goes to " + ScriptArchive.ScriptPath + ", not /home/travis/build.sh, and the worker runs it with the image's bash itself "
                + "(by exec when WORKER_DOCKER_CMD names a main process, else as the main process)",
            ["DOCKER_NATIVE"] = "the script always goes in and runs through the Docker API",
            ["DOCKER_INSPECT_INTERVAL"] = "the worker follows the engine's streams instead of polling",
            ["DOCKER_SSH_DIAL_TIMEOUT"] = "nothing is run over SSH in containers",
            ["DOCKER_API_VERSION"] = "requests carry no API version, so the engine answers in its own",
        },
    };

    /// <summary>A client for the endpoint. Requests carry no API version, so Engine 20.10 (API 1.41) and newer answer alike.</summary>
    public static IDockerClient CreateClient(Uri endpoint) =>
        new DockerClientBuilder().WithEndpoint(endpoint).WithAuthProvider(new DockerApiTracing(null)).Build();

    /// <summary>A client for the configured endpoint, over mutual TLS when <c>WORKER_DOCKER_CERT_PATH</c> is set.</summary>
    public static IDockerClient CreateClient(DockerOptions options) => options.TlsDirectory is { } directory
        ? new DockerClientBuilder().WithEndpoint(options.EndpointUri).WithAuthProvider(new DockerApiTracing(DockerTls.Credentials(directory))).Build()
        : CreateClient(options.EndpointUri);

    /// <param name="settings">The worker's settings.</param>
    /// <param name="baseDirectory"><c>WORKER_BASE_DIR</c>: what the backend keeps across restarts goes in its <c>docker</c> folder.</param>
    /// <param name="labels">Its machines' labels.</param>
    /// <param name="loggers">Its loggers.</param>
    public static DockerBackend CreateBackend(SettingsSource settings, string baseDirectory, MachineLabels labels, ILoggerFactory loggers)
    {
        var options = DockerOptions.Load(settings) with { StateDirectory = Path.Combine(baseDirectory, "docker") };
        return new DockerBackend(CreateClient(options), options, labels, loggers.CreateLogger<DockerBackend>(), ownsClient: true);
    }

    public static DockerInventory CreateInventory(SettingsSource settings) =>
        new(CreateClient(DockerOptions.Load(settings)), ownsClient: true);
}
