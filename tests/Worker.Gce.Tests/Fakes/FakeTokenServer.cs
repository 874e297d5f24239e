using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Worker.Gce.Tests.Fakes;

/// <summary>
/// Google's OAuth token endpoint on a loopback port: takes a service account's signed JWT
/// assertion (RFC 7523 jwt-bearer grant) and answers with an access token, as
/// https://oauth2.googleapis.com/token does.
/// </summary>
public sealed class FakeTokenServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeTokenServer(WebApplication app) => _app = app;

    public Uri TokenUri { get; private set; } = null!;

    /// <summary>The assertions received (JWTs: header.claims.signature).</summary>
    public ConcurrentQueue<string> Assertions { get; } = new();

    public static async Task<FakeTokenServer> StartAsync(string accessToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeTokenServer(app);
        app.MapPost("/token", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer" || form["assertion"].ToString().Split('.').Length != 3)
            {
                return Results.Json(new { error = "invalid_grant", error_description = "bad assertion" }, statusCode: 400);
            }
            server.Assertions.Enqueue(form["assertion"].ToString());
            return Results.Json(new { access_token = accessToken, expires_in = 3600, token_type = "Bearer" });
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.TokenUri = new Uri(address.TrimEnd('/') + "/token");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
