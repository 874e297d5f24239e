using Docker.DotNet;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Docker;

/// <summary>Builds the Docker backend and inventory from settings; the composition root calls these.</summary>
public static class DockerRegistration
{
    /// <summary>A client for the endpoint. Requests carry no API version, so Engine 20.10 (API 1.41) and newer answer alike.</summary>
    public static IDockerClient CreateClient(Uri endpoint) => new DockerClientBuilder().WithEndpoint(endpoint).Build();

    /// <summary>A client for the configured endpoint, over mutual TLS when <c>WORKER_DOCKER_CERT_PATH</c> is set.</summary>
    public static IDockerClient CreateClient(DockerOptions options) => options.TlsDirectory is { } directory
        ? new DockerClientBuilder().WithEndpoint(options.EndpointUri).WithAuthProvider(DockerTls.Credentials(directory)).Build()
        : CreateClient(options.EndpointUri);

    public static DockerBackend CreateBackend(SettingsSource settings, MachineLabels labels, ILoggerFactory loggers)
    {
        var options = DockerOptions.Load(settings);
        return new DockerBackend(CreateClient(options), options, labels, loggers.CreateLogger<DockerBackend>(), ownsClient: true);
    }

    public static DockerInventory CreateInventory(SettingsSource settings) =>
        new(CreateClient(DockerOptions.Load(settings)));
}
