using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;

namespace Worker.Http;

/// <summary>
/// Health and control over HTTP, inside the worker process (Kestrel, minimal APIs):
/// <c>GET /healthz</c> (alive; 503 once the backend has been broken for <c>WORKER_HOST_UNHEALTHY_AFTER</c>),
/// <c>GET /readyz</c> (503 unless ready), <c>GET /status</c> (pool and
/// processors), <c>GET /metrics</c> (Prometheus text format), and, with a bearer token, <c>PUT /pool {"size": n}</c> and <c>POST /drain</c>.
/// </summary>
public sealed class WorkerHttpServer : IAsyncDisposable
{
    public const string MetricsPath = "/metrics";

    private static readonly JsonSerializerOptions ResizeJson = new(JsonSerializerDefaults.Web);

    private readonly WebApplication _app;

    private WorkerHttpServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The bound address, with the real port when 0 was asked for.</summary>
    public Uri Address { get; }

    /// <summary>Starts the server; null when <c>WORKER_HTTP_ADDR</c> is empty.</summary>
    /// <param name="metrics">The meter provider with the Prometheus exporter, served at <c>/metrics</c>; null: no <c>/metrics</c>.</param>
    public static async Task<WorkerHttpServer?> StartAsync(HttpOptions options, ProcessorPool pool, string host,
        TimeSpan drainTimeout, ILoggerFactory loggerFactory, CancellationToken ct = default, MeterProvider? metrics = null)
    {
        if (options.Address is not { } address)
        {
            return null;
        }
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.Configure<JsonOptions>(json =>
        {
            // The same snake_case as the AMQP wire format, so one tool reads both.
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            Listen(kestrel, address);
        });

        var app = builder.Build();
        MapEndpoints(app, options, pool, host, drainTimeout, loggerFactory.CreateLogger("http"));
        if (metrics is not null)
        {
            // Unauthenticated like /healthz: counts and durations, nothing secret (README "Telemetry").
            app.MapPrometheusScrapingEndpoint(MetricsPath, metrics, configureBranchedPipeline: null, optionsName: null);
        }
        try
        {
            await app.StartAsync(ct);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            throw new InvalidSettingException(Variable(options), address.ToString(), "an address this host can listen on (" + e.Message + ")");
        }
        var bound = app.Urls.First();
        var server = new WorkerHttpServer(app, new Uri(bound.Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)));
        loggerFactory.CreateLogger("http").LogInformation(
            "Health and control server on {Address} (control endpoints {Control})", bound, options.ControlEnabled ? "on" : "off: no WORKER_HTTP_AUTH_TOKEN");
        return server;
    }

    private static string Variable(HttpOptions options) => options.Variable ?? SettingsSource.Prefix + HttpOptions.Addr.Key;

    private static void Listen(KestrelServerOptions kestrel, HttpListenAddress address)
    {
        if (address.AnyHost)
        {
            kestrel.ListenAnyIP(address.Port);
        }
        else if (IPAddress.TryParse(address.Host, out var ip))
        {
            kestrel.Listen(ip, address.Port);
        }
        else if (address.Host == "localhost" && address.Port == 0)
        {
            kestrel.Listen(IPAddress.Loopback, 0); // Kestrel can't pick one free port for both loopbacks
        }
        else if (address.Host == "localhost")
        {
            kestrel.ListenLocalhost(address.Port);
        }
        else
        {
            foreach (var resolved in Dns.GetHostAddresses(address.Host!))
            {
                kestrel.Listen(resolved, address.Port);
            }
        }
    }

    private static void MapEndpoints(WebApplication app, HttpOptions options, ProcessorPool pool, string host,
        TimeSpan drainTimeout, ILogger logger)
    {
        // Alive, unless the backend has been broken for WORKER_HOST_UNHEALTHY_AFTER: then autohealing should replace this host.
        app.MapGet("/healthz", () => pool.Breaker is { Unhealthy: true } breaker
            ? Results.Text($"unhealthy: {breaker.UnhealthyReason}\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ok\n"));

        app.MapGet("/readyz", () =>
        {
            var readiness = Readiness.Of(pool);
            return Results.Json(readiness, statusCode: readiness.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });

        app.MapGet("/status", () => Results.Json(WorkerStatus.Of(pool, host)));

        var control = app.MapGroup("").AddEndpointFilter(new BearerTokenFilter(options.Token));

        // The body is read in the handler, after the token filter, so an unauthenticated caller learns nothing from parse errors.
        control.MapPut("/pool", async (HttpRequest request) =>
        {
            var body = await ReadResizeAsync(request);
            if (body?.Size is not { } size || size < 0 || size > PoolResize.MaxSize)
            {
                return Results.Json(new { error = $"the body must be {{\"size\": n}} with n from 0 to {PoolResize.MaxSize}" },
                    statusCode: StatusCodes.Status400BadRequest);
            }
            if (pool.Draining)
            {
                return Results.Json(new { error = "the pool is draining" }, statusCode: StatusCodes.Status409Conflict);
            }
            logger.LogInformation("PUT /pool: size {Size}", size);
            pool.SetSize(size);
            return Results.Json(WorkerStatus.Of(pool, host));
        });

        control.MapPost("/drain", () =>
        {
            if (!pool.Draining)
            {
                logger.LogInformation("POST /drain: draining (up to {Timeout}); the worker exits when done", drainTimeout);
                _ = pool.DrainAsync(drainTimeout);
            }
            return Results.Json(WorkerStatus.Of(pool, host), statusCode: StatusCodes.Status202Accepted);
        });
    }

    private static async Task<PoolResize?> ReadResizeAsync(HttpRequest request)
    {
        // Any content type is taken, so `curl -d '{"size": 2}'` works as written.
        try
        {
            return await JsonSerializer.DeserializeAsync<PoolResize>(request.Body, ResizeJson, request.HttpContext.RequestAborted);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
