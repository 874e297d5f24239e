using System.Text;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Logs;
using Worker.Ssh;

namespace Worker.Gce;

/// <summary>
/// One job's VM, reached through the shared SSH transport: uploads the script over SFTP (retried,
/// refusing a VM that already ran a script), runs it in a PTY with the output streamed live into the
/// job log, and reads its exit code. A dropped connection, a missing exit status or a preempted VM
/// is Completed=false (requeue), never a build result. Stop deletes the VM and waits for it unless
/// SKIP_STOP_POLL.
/// </summary>
public sealed class GceInstance : IInstance
{
    private const string ScriptName = "build.sh";
    private static readonly RemoteScript Script = new(ScriptName) { Pty = true };

    private readonly ComputeClient _compute;
    private readonly GceOptions _options;
    private readonly string _zone;
    private readonly string? _selfLink;
    private readonly SshMachine _machine;
    private readonly ILogger _logger;

    internal GceInstance(ComputeClient compute, GceOptions options, string name, string zone, string? selfLink, string image,
        SshMachine machine, ILogger logger)
    {
        _compute = compute;
        _options = options;
        Id = name;
        _zone = zone;
        _selfLink = selfLink;
        ImageName = image;
        _machine = machine;
        _logger = logger;
    }

    public string Id { get; }
    public string ImageName { get; }
    public string Zone => _zone;

    public async Task UploadScriptAsync(string script, CancellationToken ct)
    {
        var upload = new SshUploadOptions { Attempts = _options.UploadAttempts, RetryPause = _options.UploadSleep, RefuseExisting = true };
        try
        {
            await _machine.UploadAsync(ScriptName, Encoding.UTF8.GetBytes(script), upload, ct);
        }
        catch (RemoteFileExistsException)
        {
            throw new StaleVmException($"{Id} already has a {ScriptName}: it ran another job's script");
        }
    }

    public async Task<RunResult> RunScriptAsync(IJobLogWriter log, CancellationToken ct)
    {
        var run = await _machine.RunScriptAsync(Script, log, ct);
        if (run.ExitCode == 0)
        {
            // The script ran to its successful end, whatever happened to the VM after: its result
            // stands, and the two calls that look for a preemption are saved (quota, at fleet scale).
            return RunResult.Exited(0);
        }
        using var checking = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        if (await WhyGoneAsync(checking.Token) is { } gone)
        {
            await log.WriteAsync($"\r\n{gone}\r\n", CancellationToken.None);
            return RunResult.Incomplete;
        }
        if (run.ExitCode is { } code)
        {
            return RunResult.Exited(code);
        }
        _logger.LogWarning("Job VM {Name}: {Reason}", Id, run.LostReason);
        return RunResult.Incomplete;
    }

    public async Task StopAsync(CancellationToken ct)
    {
        await _machine.DisposeAsync();
        await _compute.DeleteInstanceAsync(_zone, Id, _options.NoStopPoll ? null : _options.StopSleep, ct);
    }

    public ValueTask DisposeAsync() => _machine.DisposeAsync();

    /// <summary>Why the VM went away under the job (preempted, stopped), or null when it is still running.</summary>
    private async Task<string?> WhyGoneAsync(CancellationToken ct)
    {
        try
        {
            if (_selfLink is not null)
            {
                var filter = $"(operationType = \"compute.instances.preempted\") AND (targetLink = \"{_selfLink}\")";
                await foreach (var _ in _compute.AggregatedOperationsAsync(filter, ct))
                {
                    return $"The instance {Id} was preempted by Compute Engine; the job is restarted.";
                }
            }
            var instance = await _compute.GetOrNullAsync<ComputeInstance>($"projects/{_compute.Project}/zones/{_zone}/instances/{Id}", ct);
            return instance is null or { Status: "STOPPING" or "STOPPED" or "TERMINATED" or "SUSPENDED" }
                ? $"The instance {Id} stopped ({instance?.Status ?? "deleted"}) while the job ran; the job is restarted."
                : null;
        }
        catch (Exception e) when (e is ComputeApiException or OperationCanceledException)
        {
            _logger.LogWarning("Could not check whether {Name} was preempted: {Error}", Id, e.Message);
            return null;
        }
    }
}
