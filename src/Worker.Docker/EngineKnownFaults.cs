using Docker.DotNet;
using Microsoft.Extensions.Logging;

namespace Worker.Docker;

/// <summary>
/// Engine versions with a known fault a CI host meets: said once at start, so an operator knows why a
/// host may take itself out (the probe fails, /healthz follows) and what to upgrade to.
/// </summary>
public static class EngineKnownFaults
{
    private static readonly Version Fixed = new(20, 10, 27);

    /// <summary>
    /// The fault of an engine that says <paramref name="version"/> (as <c>GET /version</c> does:
    /// "20.10.24+dfsg1", "24.0.7"), or null. Before 20.10.27 libnetwork can deadlock when containers
    /// are stopped and removed at once (moby/moby#46661), as a busy worker does.
    /// </summary>
    public static string? Of(string? version)
    {
        if (Parse(version) is not { } parsed || parsed >= Fixed)
        {
            return null;
        }
        return $"Docker {version} can deadlock its network controller when containers are stopped and removed at once " +
            "(moby/moby#46661, fixed in 20.10.27): every create then hangs while pings still pass. A host that meets it fails the " +
            "backend's probe, takes no jobs and answers 503 on /healthz after WORKER_HOST_UNHEALTHY_AFTER; an engine of 20.10.27 or newer avoids it";
    }

    /// <summary>Asks the engine its version and logs its fault, if any; never throws (a start-up note, not a check).</summary>
    public static async Task WarnAsync(IDockerClient client, ILogger logger)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var version = await client.System.GetVersionAsync(timeout.Token);
            if (Of(version.Version) is { } fault)
            {
                logger.LogWarning("{Fault}", fault);
            }
        }
        catch (Exception e)
        {
            logger.LogDebug("Could not read the Docker engine's version: {Error}", e.Message);
        }
    }

    /// <summary>The leading dotted numbers ("20.10.24" of "20.10.24+dfsg1"); Docker's year-based versions compare as numbers.</summary>
    private static Version? Parse(string? version) =>
        Version.TryParse(new string((version ?? "").TakeWhile(c => char.IsAsciiDigit(c) || c == '.').ToArray()), out var parsed) ? parsed : null;
}
