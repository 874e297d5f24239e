using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

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
        var app = LoopbackApp.Build();
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
        server.TokenUri = new Uri(await LoopbackApp.StartAsync(app), "/token");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await LoopbackApp.StopAsync(_app);
    }
}
