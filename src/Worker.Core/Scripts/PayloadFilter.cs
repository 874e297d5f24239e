using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Processes;

namespace Worker.Core.Scripts;

/// <summary>
/// travis-worker's <c>PAYLOAD_FILTER_EXECUTABLE</c>: a program that gets a job's payload (JSON) on
/// its stdin and writes the payload its script is made from on its stdout, so an operator can
/// rewrite what jobs ask for (drop a setting, pin an image) before the script is generated. As in
/// travis-worker, only the script is made from the filtered payload, and a filter that fails (can't
/// run, exits non-zero, writes no payload) leaves the job its own, with a warning in the worker's
/// log; unlike there, a filter that runs past <see cref="TimeLimit"/> is stopped, so it can't hold
/// every job.
/// </summary>
public sealed class PayloadFilter(string executable, ILogger logger)
{
    public static readonly Setting<string?> Executable = Setting.OptionalText("PAYLOAD_FILTER_EXECUTABLE",
        "A program that gets each job's payload (JSON) on stdin and writes the payload its script is made from on stdout, as travis-worker's; "
        + "run without a shell. A filter that fails, or runs past a minute, leaves the job its own payload (a warning says why).", "a path");

    /// <summary>How long one filter run may take.</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The payload the filter made of <paramref name="payload"/>, or <paramref name="payload"/> itself when the filter failed.</summary>
    public async Task<JobPayload> ApplyAsync(JobPayload payload, CancellationToken ct)
    {
        var run = await BoundedProcess.RunAsync(executable, [], payload.ToUtf8Bytes(), TimeLimit, ct);
        if (run.CouldNotStart is { } error)
        {
            return Unfiltered(payload, $"it could not be run: {error}");
        }
        if (run.RanPastLimit)
        {
            return Unfiltered(payload, $"it ran past {Durations.Format(TimeLimit)} and was stopped");
        }
        if (run.ExitCode != 0)
        {
            var why = run.Stderr.Trim() is { Length: > 0 } said ? said.Split('\n')[0] : "no message";
            return Unfiltered(payload, $"it exited with code {run.ExitCode}: {why}");
        }
        try
        {
            var filtered = JobPayload.Parse(run.Stdout);
            logger.LogDebug("Job {JobId}: payload filtered by {Filter}", payload.JobId, executable);
            return filtered;
        }
        catch (InvalidJobPayloadException e)
        {
            return Unfiltered(payload, $"its output is not a job payload: {e.Message}");
        }
    }

    private JobPayload Unfiltered(JobPayload payload, string why)
    {
        logger.LogWarning("Job {JobId}: the payload filter {Filter} failed ({Reason}); the script is made from the job's own payload", payload.JobId,
            executable, why);
        return payload;
    }
}
