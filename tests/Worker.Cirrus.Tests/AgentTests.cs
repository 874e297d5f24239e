using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Worker.Cirrus.Agent;
using Worker.Cirrus.Tasks;
using Worker.Cirrus.Tests.Fakes;

namespace Worker.Cirrus.Tests;

public sealed class AgentTests : IDisposable
{
    private readonly string _cacheRoot = Directory.CreateTempSubdirectory("cirrus-cache-").FullName;
    private readonly HttpClient _http = new();

    private static readonly AgentTask Task1 = new("1234", "server-secret-s3cr3t", "client-secret-c0de", "http://127.0.0.1:6000", "mac-mini-1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7");

    public void Dispose()
    {
        Directory.Delete(_cacheRoot, recursive: true);
        _http.Dispose();
    }

    [Theory]
    [InlineData(null, "0.164.2")]
    [InlineData("", "0.164.2")]
    [InlineData("0.100.0", "0.164.2")]
    [InlineData("0.164.2", "0.164.2")]
    [InlineData("0.170.1", "0.170.1")]
    [InlineData("v0.170.1", "0.170.1")]
    [InlineData("1.0", "1.0.0")]
    [InlineData("0.164.2-rc1", "0.164.2")]
    [InlineData("0.165.0-rc1", "0.165.0-rc1")]
    public void The_agent_version_is_the_tasks_cli_version_never_below_the_default(string? cliVersion, string expected)
    {
        var (version, warning) = AgentVersion.ForTask(cliVersion);
        Assert.Equal(expected, version);
        Assert.Null(warning);
    }

    [Fact]
    public void An_unparsable_cli_version_falls_back_to_the_default_with_a_warning()
    {
        var (version, warning) = AgentVersion.ForTask("latest");
        Assert.Equal(AgentVersion.Default, version);
        Assert.Contains("'latest'", warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://mirror/{version}")]
    [InlineData("https://mirror.example/cirrus-latest")]
    [InlineData("not a url {version}")]
    public void A_bad_agent_url_template_stops_start_up_naming_the_variable(string template)
    {
        var error = Assert.Throws<Worker.Core.Configuration.InvalidSettingException>(() =>
            CirrusOptions.From(Worker.Core.Configuration.SettingsSource.From(("WORKER_CIRRUS_AGENT_URL", template))));
        Assert.Equal("WORKER_CIRRUS_AGENT_URL", error.Variable);
        Assert.Equal(CirrusOptions.DefaultAgentUrl, CirrusOptions.From(Worker.Core.Configuration.SettingsSource.From()).AgentUrlTemplate);
    }

    [Fact]
    public void The_cache_is_cirrus_clis_under_the_user_cache_directory()
    {
        var env = new Dictionary<string, string> { ["HOME"] = "/home/ci" };
        Assert.Equal("/home/ci/.cache", AgentBinaries.UserCacheDirectory(env.GetValueOrDefault));
        env["XDG_CACHE_HOME"] = "/var/cache/ci";
        Assert.Equal("/var/cache/ci", AgentBinaries.UserCacheDirectory(env.GetValueOrDefault));
        Assert.Equal("/home/ci/Library/Caches", AgentBinaries.UserCacheDirectory(env.GetValueOrDefault, macOs: true));

        var cache = new AgentBinaries("/var/cache/ci", CirrusOptions.DefaultAgentUrl, _http);
        Assert.Equal("/var/cache/ci/cirrus/agent/cirrus-0.164.2-linux-amd64", cache.PathFor("0.164.2", "linux", "amd64"));
        Assert.Equal("https://github.com/cirruslabs/cirrus-cli/releases/download/v0.164.2/cirrus-darwin-arm64", cache.UrlFor("0.164.2", "darwin", "arm64"));
        Assert.Equal("https://github.com/cirruslabs/cirrus-cli/releases/download/v0.164.2/cirrus-windows-amd64.exe", cache.UrlFor("0.164.2", "windows", "amd64"));
    }

    [Fact]
    public async Task A_pre_seeded_cache_is_used_without_any_download()
    {
        // Port 9 on loopback: nothing listens, so any download attempt would fail the test.
        var cache = new AgentBinaries(_cacheRoot, "http://127.0.0.1:9/{version}/{os}/{arch}", _http);
        var fake = FakeAgent.InstallInCache(cache, "0.170.0");

        Assert.Equal(fake.Path, await cache.ResolveAsync("0.170.0", HostPlatform.Os, HostPlatform.Arch, CancellationToken.None));
    }

    [Fact]
    public async Task A_missing_agent_is_downloaded_once_from_the_template_and_made_executable()
    {
        var requests = new List<string>();
        await using var server = await StartFileServerAsync(requests);
        var cache = new AgentBinaries(_cacheRoot, server.Url + "/releases/v{version}/cirrus-{os}-{arch}{ext}", _http);

        var path = await cache.ResolveAsync("0.171.0", "linux", "arm64", CancellationToken.None);
        var again = await cache.ResolveAsync("0.171.0", "linux", "arm64", CancellationToken.None);

        Assert.Equal(path, again);
        Assert.Equal(Path.Combine(_cacheRoot, "cirrus", "agent", "cirrus-0.171.0-linux-arm64"), path);
        Assert.Equal(["/releases/v0.171.0/cirrus-linux-arm64"], requests);
        Assert.Equal("#!/bin/sh\necho agent /releases/v0.171.0/cirrus-linux-arm64\n", await File.ReadAllTextAsync(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
        Assert.Equal([Path.GetFileName(path)], Directory.GetFiles(cache.Directory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_failed_download_names_the_url_and_leaves_nothing_in_the_cache()
    {
        await using var server = await StartFileServerAsync([]);
        var cache = new AgentBinaries(_cacheRoot, server.Url + "/missing/{version}", _http);

        var error = await Assert.ThrowsAsync<AgentUnavailableException>(() => cache.ResolveAsync("9.9.9", "linux", "amd64", CancellationToken.None));

        Assert.Equal($"the Cirrus agent is not in {cache.PathFor("9.9.9", "linux", "amd64")} and {server.Url}/missing/9.9.9 answered HTTP 404", error.Message);
        Assert.Empty(Directory.GetFiles(cache.Directory));
    }

    [Fact]
    public async Task None_runs_the_cached_agent_in_a_fresh_working_directory_with_the_workers_environment_only()
    {
        var cache = new AgentBinaries(_cacheRoot, CirrusOptions.DefaultAgentUrl, _http);
        var fake = FakeAgent.InstallInCache(cache, AgentVersion.Default, exitCode: 0);
        var machine = Directory.CreateTempSubdirectory("cirrus-machine-").FullName;
        var launch = AgentLaunch.None(Task1, await cache.ResolveAsync(AgentVersion.Default, HostPlatform.Os, HostPlatform.Arch, CancellationToken.None));

        var exitCode = await RunScriptAsync(launch.ToScript(), machine, ("WORKER_MARKER", "from-the-worker"));

        Assert.Equal(0, exitCode);
        Assert.Equal(["agent", "-api-endpoint", "http://127.0.0.1:6000", "-server-token", "server-secret-s3cr3t", "-client-token", "client-secret-c0de",
            "-task-id", "1234", "-pre-created-working-dir", Path.Combine(machine, "cirrus-build")], fake.Arguments);
        Assert.Equal(Path.Combine(machine, "cirrus-build"), fake.WorkingDirectory);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.Combine(machine, "cirrus-build")) & (UnixFileMode)0x1FF);
        Assert.Equal("from-the-worker", fake.Environment["WORKER_MARKER"]);
        Assert.DoesNotContain("TRACEPARENT", fake.Environment.Keys);
        Assert.DoesNotContain("CIRRUS_SENTRY_TAGS", fake.Environment.Keys);
        Assert.True(launch.InheritsWorkerEnvironment);
    }

    [Fact]
    public async Task The_agents_exit_code_is_the_scripts()
    {
        var fake = FakeAgent.Install(Path.Combine(_cacheRoot, "agent-exits-3"), exitCode: 3);

        Assert.Equal(3, await RunScriptAsync(AgentLaunch.None(Task1, fake.Path).ToScript(), Directory.CreateTempSubdirectory("cirrus-machine-").FullName));
    }

    [Fact]
    public void Container_runs_the_copied_agent_with_empty_command_hooks_no_environment_and_the_working_volume()
    {
        var launch = AgentLaunch.Container(Task1);

        Assert.Equal(["/tmp/cirrus-ci/cirrus", "agent", "-api-endpoint", "http://127.0.0.1:6000", "-server-token", "server-secret-s3cr3t",
            "-client-token", "client-secret-c0de", "-task-id", "1234", "-command-from", "", "-command-to", ""], launch.Argv);
        Assert.Empty(launch.Environment);
        Assert.False(launch.InheritsWorkerEnvironment);
        Assert.Equal("/tmp/cirrus-ci/working-dir", launch.WorkingDirectory);
        Assert.Contains("'-command-from' '' '-command-to' ''", launch.ToScript(), StringComparison.Ordinal);
    }

    [Fact]
    public void Tart_gets_the_vm_name_sentry_tags_and_trace_context_over_the_ssh_shell()
    {
        var launch = AgentLaunch.Vm(IsolationKind.Tart, Task1, "cirrus-cli-1234-5f1c", sentryDsn: null);

        Assert.Null(launch.WorkingDirectory);
        Assert.Equal(
            "export CIRRUS_SENTRY_TAGS=\"cirrus.task_id=1234,cirrus.upstream_worker_name=mac-mini-1,cirrus.upstream_hostname=127.0.0.1:6000\"\n" +
            "export CIRRUS_VM_ID=\"cirrus-cli-1234-5f1c\"\n" +
            "export TRACEPARENT=\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"\n" +
            "export TRACESTATE=\"rojo=00f067aa0ba902b7\"\n" +
            "sudo -n date -u 030415062026.07\n" +
            "/tmp/cirrus-ci/cirrus agent -api-endpoint http://127.0.0.1:6000 -server-token \"server-secret-s3cr3t\" -client-token \"client-secret-c0de\" -task-id 1234\n" +
            "exit\n",
            launch.ToShellInput(syncClockTo: new DateTimeOffset(2026, 3, 4, 15, 6, 7, TimeSpan.Zero)));
    }

    [Fact]
    public void Vetu_gets_only_the_vm_name_and_sentry_dsn()
    {
        var launch = AgentLaunch.Vm(IsolationKind.Vetu, Task1, "cirrus-cli-1234-aa", sentryDsn: "https://key@sentry.example/1");

        Assert.Equal(
            "export CIRRUS_VM_ID=\"cirrus-cli-1234-aa\"\n" +
            "export SENTRY_DSN=\"https://key@sentry.example/1\"\n" +
            "/tmp/cirrus-ci/cirrus agent -api-endpoint http://127.0.0.1:6000 -server-token \"server-secret-s3cr3t\" -client-token \"client-secret-c0de\" -task-id 1234\n" +
            "exit\n",
            launch.ToShellInput());
    }

    [Fact]
    public void A_secret_with_shell_characters_stays_one_literal_word()
    {
        var odd = Task1 with { ServerSecret = "a\"b$c`d\\e" };
        Assert.Contains("-server-token \"a\\\"b\\$c\\`d\\\\e\"", AgentLaunch.Vm(IsolationKind.Vetu, odd, "vm", null).ToShellInput(), StringComparison.Ordinal);
    }

    /// <summary>Runs the script as the local backend does: in the machine's directory.</summary>
    private static async Task<int> RunScriptAsync(string script, string machine, params (string Name, string Value)[] environment)
    {
        var info = new ProcessStartInfo("bash", ["-c", script]) { RedirectStandardError = true, WorkingDirectory = machine };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        using var process = Process.Start(info)!;
        await process.WaitForExitAsync();
        return process.ExitCode;
    }

    private sealed class FileServer(WebApplication app, string url) : IAsyncDisposable
    {
        public string Url { get; } = url;

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }

    private static async Task<FileServer> StartFileServerAsync(List<string> requests)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapGet("/releases/{**rest}", (HttpContext context) =>
        {
            lock (requests)
            {
                requests.Add(context.Request.Path);
            }
            return Results.Text($"#!/bin/sh\necho agent {context.Request.Path}\n");
        });
        await app.StartAsync();
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FileServer(app, url);
    }
}
