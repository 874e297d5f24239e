using Worker.Core.Jobs;

namespace Worker.Core.Queues;

/// <summary>
/// <c>worker submit</c> on the file queue: drops the payload into <c>10-created.d</c>; with follow,
/// prints <c>log/ID.log</c> as it grows until <c>70-finished.d/ID.state</c> appears.
/// </summary>
public sealed class FileJobSubmitter(FileJobQueue queue) : IJobSubmitter
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public async Task<FinishState?> SubmitAsync(JobPayload payload, bool follow, TextWriter output, TextWriter status, CancellationToken ct)
    {
        var path = queue.Submit(payload);
        await status.WriteLineAsync($"Submitted job {payload.JobId} to {path}");
        if (!follow)
        {
            return null;
        }
        var logPath = queue.PathOf(FileJobQueue.Logs, $"{payload.JobId}.log");
        var statePath = queue.PathOf(FileJobQueue.Finished, $"{payload.JobId}.state");
        long offset = 0;
        while (true)
        {
            offset = await PrintNewAsync(logPath, offset, output, ct);
            // Empty while the worker is still writing it.
            var state = File.Exists(statePath) ? (await File.ReadAllTextAsync(statePath, ct)).Trim() : "";
            if (state.Length > 0)
            {
                // The log is closed before the state is written; one more read takes its last part.
                await PrintNewAsync(logPath, offset, output, ct);
                await status.WriteLineAsync($"Job {payload.JobId} {state}");
                return FinishStates.FromWireName(state);
            }
            await Task.Delay(PollInterval, ct);
        }
    }

    private static async Task<long> PrintNewAsync(string path, long offset, TextWriter output, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            return offset;
        }
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length <= offset)
        {
            return offset;
        }
        stream.Seek(offset, SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        var text = await reader.ReadToEndAsync(ct);
        await output.WriteAsync(text);
        await output.FlushAsync(ct);
        return stream.Length;
    }
}
