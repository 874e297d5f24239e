using Docker.DotNet;
using Docker.DotNet.Models;
using Worker.Core.Backends;
using Worker.Docker;

namespace Worker.Docker.Tests;

/// <summary>
/// The real engine these tests run against, and the locally built job image (never pulled). A
/// missing engine or image fails the tests with a line saying how to get them; nothing is skipped.
/// </summary>
internal static class DockerEngine
{
    public static readonly Uri Endpoint = new(Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } host ? host : DockerOptions.LocalSocket);

    public static string Image => Environment.GetEnvironmentVariable("WORKER_TEST_IMAGE") is { Length: > 0 } image ? image : "worker-job-base:bookworm";

    private static readonly Lazy<Task> Checked = new(CheckAsync);

    public static IDockerClient Client() => DockerRegistration.CreateClient(Endpoint);

    /// <summary>Fails with a clear message when the engine doesn't answer or the test image is missing.</summary>
    public static Task EnsureAvailableAsync() => Checked.Value;

    /// <summary>Containers on the engine labelled with this fleet, in any state.</summary>
    public static async Task<IList<ContainerListResponse>> ContainersOfFleetAsync(string fleet)
    {
        using var client = Client();
        return await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{MachineLabels.Fleet}={fleet}"] = true },
            },
        });
    }

    /// <summary>Every container the engine created for this fleet, also those already removed: Docker's event log.</summary>
    public static async Task<IReadOnlyList<string>> CreateEventsAsync(string fleet, DateTimeOffset since)
    {
        using var client = Client();
        var events = new SynchronousProgress();
        await client.System.MonitorEventsAsync(new ContainerEventsParameters
        {
            Since = (since.ToUnixTimeSeconds() - 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
            Until = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["type"] = new Dictionary<string, bool> { ["container"] = true },
                ["event"] = new Dictionary<string, bool> { ["create"] = true },
                ["label"] = new Dictionary<string, bool> { [$"{MachineLabels.Fleet}={fleet}"] = true },
            },
        }, events, CancellationToken.None);
        return events.Ids;
    }

    public static string NewFleet() => "dtest-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>
    /// <see cref="Image"/> with a user of its own as its default, as many CI images have
    /// (<c>USER builder</c>, <c>WORKDIR /home/builder</c>); made once a run, here, as nothing is pulled.
    /// </summary>
    public static Task<string> NonRootImageAsync() => NonRoot.Value;

    /// <summary><see cref="Image"/> with a user <c>travis</c>, as travis's build images have, but still root by default.</summary>
    public static Task<string> TravisUserImageAsync() => TravisUser.Value;

    /// <summary><see cref="Image"/> without bash (only <c>sh</c>), as a minimal image is.</summary>
    public static Task<string> NoBashImageAsync() => NoBash.Value;

    /// <summary><see cref="Image"/> without util-linux <c>script</c>, as a slim image may be.</summary>
    public static Task<string> NoScriptImageAsync() => NoScript.Value;

    /// <summary>
    /// <see cref="Image"/> with an init of its own at <c>/sbin/init</c>, as travis's images have one: it
    /// ignores SIGTERM (an init does), starts a tiny service that beats once a second into
    /// <see cref="InitServiceHeartbeat"/>, writes its pid to <see cref="InitServicePidFile"/>, then waits forever.
    /// </summary>
    public static Task<string> InitImageAsync() => Init.Value;

    public const string InitServicePidFile = "/run/tiny-service.pid";
    public const string InitServiceHeartbeat = "/run/tiny-service.heartbeat";

    private const string InitScript = $$"""
        #!/bin/sh
        trap '' TERM
        ( while :; do date +%s > {{InitServiceHeartbeat}}; sleep 1; done ) &
        echo $! > {{InitServicePidFile}}
        while :; do sleep 3600; done

        """;

    private static readonly Lazy<Task<string>> Init = new(() => DeriveImageAsync("worker-job-init",
        ["sh", "-c", "printf '%s' \"$1\" > /sbin/init && chmod 755 /sbin/init", "sh", InitScript], _ => { }));

    private static readonly Lazy<Task<string>> NonRoot = new(() => DeriveImageAsync("worker-job-nonroot",
        ["useradd", "--create-home", "--uid", "1001", "builder"], commit => { commit.User = "builder"; commit.WorkingDir = "/home/builder"; }));

    private static readonly Lazy<Task<string>> TravisUser = new(() => DeriveImageAsync("worker-job-travis",
        ["useradd", "--create-home", "--uid", "2000", "travis"], _ => { }));

    private static readonly Lazy<Task<string>> NoScript = new(() => DeriveImageAsync("worker-job-noscript", ["rm", "-f", "/usr/bin/script"], _ => { }));

    private static readonly Lazy<Task<string>> NoBash = new(() => DeriveImageAsync("worker-job-nobash",
        ["rm", "-f", "/bin/bash", "/usr/bin/bash"], commit => commit.Cmd = ["sh"]));

    /// <summary>
    /// Runs <paramref name="change"/> in a container of <see cref="Image"/> and commits the result as
    /// <c>REPOSITORY:test</c>, labelled with a digest of how it was made: an image that carries the
    /// same digest is used again, so runs don't pile up untagged copies on the engine (nor pay for one).
    /// </summary>
    private static async Task<string> DeriveImageAsync(string repository, IList<string> change, Action<CommitContainerChangesParameters> configure)
    {
        await EnsureAvailableAsync();
        using var client = Client();
        var reference = repository + ":test";
        var commit = new CommitContainerChangesParameters { RepositoryName = repository, Tag = "test", Entrypoint = [] };
        configure(commit);
        var baseImage = await client.Images.InspectImageAsync(Image);
        var recipe = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n',
            baseImage.ID, string.Join('\0', change), commit.User ?? "", commit.WorkingDir ?? "", string.Join('\0', commit.Cmd ?? [])))));
        try
        {
            var existing = await client.Images.InspectImageAsync(reference);
            if (existing.Config?.Labels is { } labels && labels.TryGetValue(RecipeLabel, out var made) && made == recipe)
            {
                return reference;
            }
        }
        catch (DockerImageNotFoundException)
        {
        }
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters { Image = Image, Entrypoint = change, Cmd = [] });
        try
        {
            await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters());
            var exit = await client.Containers.WaitContainerAsync(created.ID);
            if (exit.StatusCode != 0)
            {
                throw new InvalidOperationException($"{string.Join(' ', change)} in {Image} exited with {exit.StatusCode}");
            }
            commit.ContainerID = created.ID;
            commit.Labels = new Dictionary<string, string> { [RecipeLabel] = recipe };
            await client.Images.CommitContainerChangesAsync(commit);
        }
        finally
        {
            await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true });
        }
        return reference;
    }

    private const string RecipeLabel = "worker-test-recipe";

    private static async Task CheckAsync()
    {
        using var client = Client();
        try
        {
            await client.System.PingAsync();
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"No Docker engine answers at {Endpoint} ({e.Message}); start one with tests/start-dockerd.sh", e);
        }
        try
        {
            await client.Images.InspectImageAsync(Image);
        }
        catch (DockerImageNotFoundException e)
        {
            throw new InvalidOperationException($"The test image {Image} is not on this host; tests/run.sh builds it (debootstrap + docker import)", e);
        }
    }

    private sealed class SynchronousProgress : IProgress<Message>
    {
        private readonly List<string> _ids = [];

        public IReadOnlyList<string> Ids { get { lock (_ids) { return [.. _ids]; } } }

        public void Report(Message value)
        {
            lock (_ids)
            {
                _ids.Add(value.Actor?.ID ?? "");
            }
        }
    }
}
