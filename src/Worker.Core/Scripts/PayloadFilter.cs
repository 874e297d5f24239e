using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

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
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            return Unfiltered(payload, $"it could not be run: {e.Message}");
        }
        using (process)
        {
            using var overrun = CancellationTokenSource.CreateLinkedTokenSource(ct);
            overrun.CancelAfter(TimeLimit);
            var stdout = ReadAllAsync(process.StandardOutput.BaseStream);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                try
                {
                    await process.StandardInput.BaseStream.WriteAsync(payload.ToUtf8Bytes(), overrun.Token);
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // It stopped reading (exited early): what it wrote, and its exit code, tell.
                }
                await process.WaitForExitAsync(overrun.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                ct.ThrowIfCancellationRequested();
                return Unfiltered(payload, $"it ran past {Durations.Format(TimeLimit)} and was stopped");
            }
            if (process.ExitCode != 0)
            {
                var why = (await stderr).Trim() is { Length: > 0 } said ? said.Split('\n')[0] : "no message";
                return Unfiltered(payload, $"it exited with code {process.ExitCode}: {why}");
            }
            try
            {
                var filtered = JobPayload.Parse(await stdout);
                logger.LogDebug("Job {JobId}: payload filtered by {Filter}", payload.JobId, executable);
                return filtered;
            }
            catch (InvalidJobPayloadException e)
            {
                return Unfiltered(payload, $"its output is not a job payload: {e.Message}");
            }
        }
    }

    private JobPayload Unfiltered(JobPayload payload, string why)
    {
        logger.LogWarning("Job {JobId}: the payload filter {Filter} failed ({Reason}); the script is made from the job's own payload", payload.JobId,
            executable, why);
        return payload;
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, CancellationToken.None);
        return buffer.ToArray();
    }
}
