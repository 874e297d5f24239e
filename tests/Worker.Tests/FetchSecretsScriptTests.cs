using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Worker.Tests;

/// <summary>
/// terraform/fetch-secrets.sh, which worker.service runs before the container starts, with bash and
/// curl as on the host, against a fake metadata server and a fake Secret Manager on loopback that
/// answer as the real ones do (the token only with Metadata-Flavor; access only with that token;
/// the value base64 in payload.data; NOT_FOUND for a secret without a version).
/// </summary>
public sealed class FetchSecretsScriptTests : IAsyncLifetime
{
    private const string Token = "ya29.host-token";
    private const string Project = "my-ci-project";

    private readonly TempDirectory _dir = new();
    private readonly ConcurrentQueue<string> _requests = new();
    private readonly Dictionary<string, string> _secrets = new()
    {
        [$"projects/{Project}/secrets/ci-worker-amqp-uri"] = "amqps://worker:s3cr=t@rabbitmq.example.com:5671/ci\n",
        [$"projects/{Project}/secrets/ci-worker-http-auth-token"] = "0123456789abcdef",
        [$"projects/{Project}/secrets/ci-worker-build-api-uri"] = "https://token@build.example.com\nsecond line",
    };
    private WebApplication _app = null!;
    private Uri _address = null!;

    private string Script => Path.Combine(TerraformConfiguration.RepositoryRoot, "terraform", "fetch-secrets.sh");

    private string Output => Path.Combine(_dir.Path, "run", "secrets.env");

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.MapGet("/computeMetadata/v1/instance/service-accounts/default/token", (HttpRequest request) =>
        {
            _requests.Enqueue("token " + request.Headers["Metadata-Flavor"]);
            return request.Headers["Metadata-Flavor"] == "Google"
                ? Results.Text($"{{\"access_token\":\"{Token}\",\"expires_in\":3599,\"token_type\":\"Bearer\"}}", "application/json")
                : Results.Text("Missing required header: Metadata-Flavor", statusCode: 403);
        });
        _app.MapGet("/v1/projects/{project}/secrets/{name}/versions/latest:access", (HttpRequest request, string project, string name) =>
        {
            var secret = $"projects/{project}/secrets/{name}";
            _requests.Enqueue($"access {secret} {request.Headers.Authorization}");
            if (request.Headers.Authorization != "Bearer " + Token)
            {
                return Results.Json(Error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), statusCode: 401);
            }
            if (!_secrets.TryGetValue(secret, out var value))
            {
                return Results.Json(Error(404, "NOT_FOUND", $"Secret Version [{secret}/versions/latest] not found or has no enabled versions."), statusCode: 404);
            }
            // Pretty-printed, as the API sends it.
            return Results.Text($$"""
                {
                  "name": "{{secret}}/versions/3",
                  "payload": {
                    "data": "{{Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value))}}",
                    "dataCrc32c": "2967231519"
                  }
                }
                """, "application/json");
        });
        await _app.StartAsync();
        _address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Directory.CreateDirectory(Path.Combine(_dir.Path, "run"));
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _dir.Dispose();
    }

    private static object Error(int code, string status, string message) => new { error = new { code, message, status } };

    private async Task<(int ExitCode, string Stderr)> FetchAsync(params string[] lines)
    {
        var list = _dir.Write("secrets.list", string.Join('\n', lines) + "\n");
        var start = new ProcessStartInfo("bash") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(list);
        start.ArgumentList.Add(Output);
        start.Environment["GCE_METADATA_HOST"] = $"{_address.Host}:{_address.Port}";
        start.Environment["SECRET_MANAGER_ENDPOINT"] = _address.ToString().TrimEnd('/');
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stderr);
    }

    [Fact]
    public async Task Each_secret_is_fetched_with_the_hosts_token_into_an_env_file_only_its_owner_can_read()
    {
        var (exit, stderr) = await FetchAsync(
            $"WORKER_AMQP_URI=projects/{Project}/secrets/ci-worker-amqp-uri",
            $"WORKER_HTTP_AUTH_TOKEN=projects/{Project}/secrets/ci-worker-http-auth-token");

        Assert.True(exit == 0, stderr);
        Assert.Equal(
            "WORKER_AMQP_URI=amqps://worker:s3cr=t@rabbitmq.example.com:5671/ci\nWORKER_HTTP_AUTH_TOKEN=0123456789abcdef\n",
            await File.ReadAllTextAsync(Output));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Output));
        Assert.Equal(
            ["token Google", $"access projects/{Project}/secrets/ci-worker-amqp-uri Bearer {Token}", $"access projects/{Project}/secrets/ci-worker-http-auth-token Bearer {Token}"],
            _requests);
        Assert.DoesNotContain("s3cr", stderr);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(Output)!)); // no temporary file left
    }

    [Fact]
    public async Task A_secret_without_a_version_fails_the_start_naming_it_and_leaves_no_env_file()
    {
        var (exit, stderr) = await FetchAsync(
            $"WORKER_AMQP_URI=projects/{Project}/secrets/ci-worker-amqp-uri",
            $"WORKER_LOGS_AMQP_URI=projects/{Project}/secrets/ci-worker-logs-amqp-uri");

        Assert.NotEqual(0, exit);
        Assert.Contains($"WORKER_LOGS_AMQP_URI from projects/{Project}/secrets/ci-worker-logs-amqp-uri: HTTP 404", stderr);
        Assert.Contains("NOT_FOUND", stderr);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(Output)!));
    }

    [Fact]
    public async Task A_secret_of_more_than_one_line_is_refused_without_showing_it()
    {
        var (exit, stderr) = await FetchAsync($"WORKER_BUILD_API_URI=projects/{Project}/secrets/ci-worker-build-api-uri");

        Assert.NotEqual(0, exit);
        Assert.Contains("WORKER_BUILD_API_URI", stderr);
        Assert.Contains("more than one line", stderr);
        Assert.DoesNotContain("token@build", stderr);
        Assert.False(File.Exists(Output));
    }
}
