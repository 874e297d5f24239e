using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Worker.Docker.Tests;

/// <summary>
/// A real image registry (Debian's <c>docker-registry</c>, the CNCF distribution server) on a
/// loopback port, which the engine may use without TLS, holding the test job image under a
/// repository of its own. No local tag of it is left, so a job asking for it makes the engine pull.
/// </summary>
public sealed class LocalRegistry : IAsyncLifetime
{
    private const string Binary = "/usr/bin/docker-registry";
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-registry-").FullName;
    private Process? _server;

    public string Address { get; private set; } = "";

    /// <summary>The job image, on this registry only.</summary>
    public string Image => $"{Address}/pulltest/job:bookworm";

    public async Task InitializeAsync()
    {
        await DockerEngine.EnsureAvailableAsync();
        Assert.True(File.Exists(Binary), $"{Binary} is missing: tests/install-test-deps.sh installs Debian's docker-registry");
        Address = $"127.0.0.1:{FreePort()}";
        await File.WriteAllTextAsync(Path.Combine(_dir, "config.yml"), $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {_dir}/data
            http:
              addr: {Address}
            """);
        var start = new ProcessStartInfo(Binary, ["serve", Path.Combine(_dir, "config.yml")]) { RedirectStandardOutput = true, RedirectStandardError = true };
        _server = Process.Start(start)!;
        _ = _server.StandardOutput.ReadToEndAsync();
        var errors = _server.StandardError.ReadToEndAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.TrueAsync(async () =>
            {
                try
                {
                    return (await http.GetAsync($"http://{Address}/v2/")).StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            $"docker-registry answers on {Address}", TimeSpan.FromSeconds(15), gaveUp: () => _server.HasExited,
            explain: () => _server.HasExited ? "docker-registry exited: " + errors.GetAwaiter().GetResult() : "");
        await DockerCliAsync("tag", DockerEngine.Image, Image);
        await DockerCliAsync("push", Image);
        await RemoveLocalTagAsync();
    }

    /// <summary>Forgets the pulled tag, so the next job asking for it pulls again.</summary>
    public Task RemoveLocalTagAsync() => DockerCliAsync("rmi", Image);

    /// <summary>
    /// Pushes the job image under <paramref name="tag"/> of this registry's repository, with
    /// <c>/marker</c> holding <paramref name="marker"/> when one is given (an image of its own), and
    /// leaves no local tag of it; returns its name.
    /// </summary>
    public async Task<string> PushAsync(string tag, string? marker = null)
    {
        var image = $"{Address}/pulltest/job:{tag}";
        if (marker is null)
        {
            await DockerCliAsync("tag", DockerEngine.Image, image);
        }
        else
        {
            var builder = "worker-registry-build-" + Guid.NewGuid().ToString("N")[..8];
            await DockerCliAsync("run", "--name", builder, DockerEngine.Image, "bash", "-c", $"echo {marker} > /marker");
            await DockerCliAsync("commit", builder, image);
            await DockerCliAsync("rm", builder);
        }
        await DockerCliAsync("push", image);
        await DockerCliAsync("rmi", image);
        return image;
    }

    /// <summary>Tags this host's copy of <paramref name="source"/> as <paramref name="image"/>.</summary>
    public static Task TagAsync(string source, string image) => DockerCliAsync("tag", source, image);

    /// <summary>Removes <paramref name="image"/> from this host, if it is here.</summary>
    public static async Task RemoveQuietlyAsync(string image)
    {
        try
        {
            await DockerCliAsync("rmi", image);
        }
        catch (Xunit.Sdk.XunitException)
        {
            // Not here: fine.
        }
    }

    /// <summary>
    /// Stops the registry and takes its address with a listener that accepts every connection and
    /// never answers, as a registry that hangs; disposing the returned listener lets them go.
    /// </summary>
    public async Task<TcpListener> HangAsync()
    {
        await StopAsync();
        var (host, port) = (Address.Split(':')[0], int.Parse(Address.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
        var listener = new TcpListener(IPAddress.Parse(host), port);
        listener.Start();
        _ = Task.Run(async () =>
        {
            var held = new List<TcpClient>();
            try
            {
                while (true)
                {
                    held.Add(await listener.AcceptTcpClientAsync());
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                held.ForEach(c => c.Dispose());
            }
        });
        return listener;
    }

    /// <summary>Stops the registry: a pull from it then fails as from one that is down.</summary>
    public async Task StopAsync()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill();
            await _server.WaitForExitAsync();
        }
    }

    public async Task DisposeAsync()
    {
        await RemoveQuietlyAsync(Image); // not pulled by the last test: fine
        await StopAsync();
        _server?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task DockerCliAsync(params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("docker", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"docker {string.Join(' ', arguments)}: {await error}{await output}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
