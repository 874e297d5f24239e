using System.Text.Json;
using Docker.DotNet;
using Worker.Core.Jobs;

namespace Worker.Docker;

/// <summary>
/// The main process of a container whose script runs by exec: the operator's <c>WORKER_DOCKER_CMD</c>
/// (e.g. <c>/sbin/init</c>, so the image's init system runs), else <c>sleep infinity</c>, which only
/// keeps the container alive.
/// </summary>
public static class MainProcess
{
    /// <summary>What keeps a container alive for scripts run in it by exec, when it runs no command of the operator's.</summary>
    public static readonly IList<string> KeepAlive = ["sleep", "infinity"];

    public static IList<string> Of(DockerOptions options) => options.MainCommand.Count > 0 ? [.. options.MainCommand] : KeepAlive;

    /// <summary>
    /// The refusal of a job whose image can't run <c>WORKER_DOCKER_CMD</c> (not in it, or not
    /// executable), which the engine says when the start fails (<c>exec: "/sbin/init": stat /sbin/init:
    /// no such file or directory</c>): the image's doing, the same on every host, so the job is not
    /// tried again elsewhere. Null for any other failure. (travis-worker's default command, which the
    /// operator did not set, is left out instead: see <see cref="ContainerLauncher"/>.)
    /// </summary>
    public static JobRefusedException? Refusal(DockerOptions options, Exception startFailure, string image)
    {
        if (options.MainCommand.Count == 0 || startFailure is not DockerApiException api)
        {
            return null;
        }
        var command = options.MainCommand[0];
        var message = EngineMessage(api);
        var marker = $"exec: \"{command}\": ";
        var at = message.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }
        var why = message[(at + marker.Length)..].Trim();
        const string runcSuffix = ": unknown";
        if (why.EndsWith(runcSuffix, StringComparison.Ordinal))
        {
            why = why[..^runcSuffix.Length];
        }
        return new JobRefusedException($"image '{image}' can't run {command}, its container's main process (set by {options.MainCommandVariable}): {why}");
    }

    /// <summary>The engine's error message: the <c>message</c> of its JSON answer, else the answer as it came.</summary>
    private static string EngineMessage(DockerApiException e)
    {
        var body = e.ResponseBody ?? "";
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("message", out var message)
                && message.ValueKind == JsonValueKind.String
                ? message.GetString()!
                : body;
        }
        catch (JsonException)
        {
            return body;
        }
    }
}
