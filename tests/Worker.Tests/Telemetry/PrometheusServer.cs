using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Worker.TestSupport;

namespace Worker.Tests.Telemetry;

/// <summary>
/// A real Prometheus (Debian's <c>prometheus</c>, installed by tests/install-test-deps.sh) on
/// loopback with a config and data directory of its own, scraping one target every second;
/// <see cref="QueryAsync"/> asks its HTTP query API.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private const string Binary = "/usr/bin/prometheus";

    private readonly Process _process;
    private readonly HttpClient _client;
    private readonly System.Text.StringBuilder _output = new();

    private PrometheusServer(Process process, Uri address)
    {
        _process = process;
        _client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output { get { lock (_output) { return _output.ToString(); } } }

    /// <param name="directory">Where its config and data go.</param>
    /// <param name="target">The <c>host:port</c> whose <c>/metrics</c> it scrapes.</param>
    public static async Task<PrometheusServer> StartAsync(string directory, string target)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: tests/install-test-deps.sh installs Debian's prometheus");
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: worker
                metrics_path: /metrics
                static_configs:
                  - targets: ["{target}"]
            """);
        var port = FreePort();
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory,
        };
        foreach (var argument in new[]
        {
            "--config.file=" + config, "--storage.tsdb.path=" + Path.Combine(directory, "data"),
            $"--web.listen-address=127.0.0.1:{port}",
        })
        {
            start.ArgumentList.Add(argument);
        }
        var server = new PrometheusServer(Process.Start(start)!, new Uri($"http://127.0.0.1:{port}"));
        await Eventually.TrueAsync(server.ReadyAsync, "Prometheus is ready", gaveUp: () => server._process.HasExited, explain: () => server.Output);
        return server;
    }

    /// <summary>The value of an instant query that yields one sample; null while it yields none.</summary>
    public async Task<double?> QueryAsync(string query)
    {
        var answer = JsonNode.Parse(await _client.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query)))!;
        Assert.Equal("success", (string?)answer["status"]);
        var result = answer["data"]!["result"]!.AsArray();
        return result.Count == 0
            ? null
            : double.Parse((string)Assert.Single(result)!["value"]![1]!, CultureInfo.InvariantCulture);
    }

    /// <summary>The health of its scrape of the target (up = 1).</summary>
    public Task<double?> TargetUpAsync() => QueryAsync("up{job=\"worker\"}");

    private async Task<bool> ReadyAsync()
    {
        try
        {
            using var response = await _client.GetAsync("/-/ready");
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
