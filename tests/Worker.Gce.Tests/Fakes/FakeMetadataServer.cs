using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Worker.Gce.Tests.Fakes;

/// <summary>
/// The GCE metadata server on a loopback port, as a VM sees it at 169.254.169.254: answers only
/// requests with <c>Metadata-Flavor: Google</c> (403 otherwise, as the real one does), and marks
/// its answers with the same header. Serves the project, the instance's name, id, zone and (when it
/// has one) created-by attribute, and the default service account's access token, which
/// Application Default Credentials ask for.
/// </summary>
public sealed class FakeMetadataServer : IAsyncDisposable
{
    public const string InstanceName = "worker-host-from-metadata";
    public const string InstanceId = "4567890123456789012";
    public const string Zone = "us-central1-b";
    public const string ProjectNumber = "123456789012";

    private readonly WebApplication _app;

    private FakeMetadataServer(WebApplication app) => _app = app;

    /// <summary>host:port, the value of <c>GCE_METADATA_HOST</c>.</summary>
    public string HostAndPort { get; private set; } = "";

    /// <summary>Path and query of every request that carried the flavor header.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public int Refused => _refused;

    /// <summary>Answer the token request 404, as for a VM that has no service account.</summary>
    public bool NoServiceAccount { get; set; }

    /// <summary>How long the project id takes to come, as from a VM busy starting up.</summary>
    public TimeSpan ProjectIdDelay { get; set; }

    private int _refused;

    /// <param name="project">The project id it names.</param>
    /// <param name="accessToken">The service account's token.</param>
    /// <param name="createdBy">The instance's <c>created-by</c> attribute, as a managed instance group sets it; null: none (404).</param>
    public static async Task<FakeMetadataServer> StartAsync(string project, string accessToken, string? createdBy = null)
    {
        var app = LoopbackApp.Build();
        var server = new FakeMetadataServer(app);
        app.Use(async (context, next) =>
        {
            context.Response.Headers["Metadata-Flavor"] = "Google";
            if (context.Request.Headers["Metadata-Flavor"] != "Google")
            {
                Interlocked.Increment(ref server._refused);
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                await context.Response.WriteAsync("Missing required header: Metadata-Flavor");
                return;
            }
            server.Requests.Enqueue(context.Request.Path + context.Request.QueryString);
            await next(context);
        });
        app.MapGet("/", () => Results.Text("computeMetadata/\n"));
        app.MapGet("/computeMetadata/v1/project/project-id", async (HttpContext context) =>
        {
            await Task.Delay(server.ProjectIdDelay, context.RequestAborted);
            return Results.Text(project);
        });
        app.MapGet("/computeMetadata/v1/instance/name", () => Results.Text(InstanceName));
        app.MapGet("/computeMetadata/v1/instance/id", () => Results.Text(InstanceId));
        app.MapGet("/computeMetadata/v1/instance/zone", () => Results.Text($"projects/{ProjectNumber}/zones/{Zone}"));
        app.MapGet("/computeMetadata/v1/instance/attributes/created-by", () => createdBy is null
            ? Results.Text("Not Found\n", statusCode: StatusCodes.Status404NotFound)
            : Results.Text(createdBy));
        app.MapGet("/computeMetadata/v1/universe/universe-domain", () => Results.Text("googleapis.com"));
        app.MapGet("/computeMetadata/v1/instance/service-accounts/default/token", () => server.NoServiceAccount
            ? Results.Text("Not Found\n", statusCode: StatusCodes.Status404NotFound)
            : Results.Json(new { access_token = accessToken, expires_in = 3599, token_type = "Bearer" }));
        var address = await LoopbackApp.StartAsync(app);
        server.HostAndPort = $"{address.Host}:{address.Port}";
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await LoopbackApp.StopAsync(_app);
    }
}
