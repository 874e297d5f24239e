using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;

namespace Worker.Core.Queues;

/// <summary>
/// travis-worker's file queue, the embedded default: job files (<c>*.json</c> travis payloads)
/// move through <c>BASE_DIR/QUEUE/{10-created.d,30-received.d,50-started.d,70-finished.d}</c>;
/// <c>log/ID.log</c> holds the log and <c>70-finished.d/ID.state</c> the finish state. A claim is an
/// atomic rename, so several processors and hosts can share one folder. Beyond travis: a payload
/// that can't be used goes to <c>dead.d</c> beside a <c>.error</c> file saying why, and a file
/// <c>cancel.d/ID</c> (its text the reason) cancels that job.
/// </summary>
public sealed class FileJobQueue : IJobQueue
{
    public const string Created = "10-created.d";
    public const string Received = "30-received.d";
    public const string Started = "50-started.d";
    public const string Finished = "70-finished.d";
    public const string Dead = "dead.d";
    public const string Cancel = "cancel.d";
    public const string Logs = "log";

    private readonly JobCancellations _cancellations;
    private readonly ILogger _logger;
    private readonly TimeSpan _pollInterval;
    private readonly Func<long, ILogPartSink?>? _logTee;

    public FileJobQueue(string baseDir, string name, TimeSpan pollInterval, JobCancellations cancellations, ILogger logger,
        Func<long, ILogPartSink?>? logTee = null, long? onlyJobId = null)
    {
        Name = name;
        Root = Path.Combine(baseDir, name);
        _pollInterval = pollInterval;
        _cancellations = cancellations;
        _logger = logger;
        _logTee = logTee;
        OnlyJobId = onlyJobId;
        foreach (var dir in new[] { Created, Received, Started, Finished, Dead, Cancel, Logs })
        {
            Directory.CreateDirectory(Path.Combine(Root, dir));
        }
    }

    public string Name { get; }
    public string Root { get; }
    public bool IsConnected => Directory.Exists(Root);

    /// <summary>When set, only this job is taken (used by <c>worker exec</c>).</summary>
    public long? OnlyJobId { get; }

    public string PathOf(string folder, string file) => Path.Combine(Root, folder, file);

    /// <summary>Drops a payload into <c>10-created.d</c> (written aside, then renamed, so no reader sees half a file).</summary>
    public string Submit(JobPayload payload)
    {
        var file = FileName(payload.JobId);
        var temp = PathOf(Created, "." + file + ".tmp");
        File.WriteAllText(temp, payload.ToJson());
        var target = PathOf(Created, file);
        File.Move(temp, target, overwrite: true);
        return target;
    }

    public async IAsyncEnumerable<IJob> ReceiveAsync([EnumeratorCancellation] CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            ApplyCancelRequests();
            var job = TryClaimNext();
            if (job is not null)
            {
                yield return job;
                continue;
            }
            try
            {
                await Task.Delay(_pollInterval, ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }

    /// <summary>Every state is a file written at once; nothing is left to flush.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public static string FileName(long jobId) => jobId.ToString(CultureInfo.InvariantCulture) + ".json";

    private FileJob? TryClaimNext()
    {
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(Path.Combine(Root, Created), "*.json")
                .OrderBy(File.GetLastWriteTimeUtc).ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        foreach (var path in candidates)
        {
            var file = Path.GetFileName(path);
            if (OnlyJobId is { } only && file != FileName(only))
            {
                continue;
            }
            var claimed = PathOf(Received, file);
            try
            {
                File.Move(path, claimed);
            }
            catch (IOException)
            {
                continue; // another processor or host took it first
            }
            try
            {
                var payload = JobPayload.Parse(File.ReadAllText(claimed));
                var requeues = payload.MetaRequeueCount;
                return new FileJob(this, payload, requeues, file, _logTee?.Invoke(payload.JobId));
            }
            catch (Exception e)
            {
                // Whatever reading the payload throws, it is the file's fault: set it aside with the reason.
                DeadLetter(claimed, file, e.Message);
            }
        }
        return null;
    }

    internal void DeadLetter(string path, string file, string reason)
    {
        _logger.LogWarning("Dead-lettering {File}: {Reason}", file, reason);
        Telemetry.WorkerMetrics.DeadLettered("file");
        File.Move(path, PathOf(Dead, file), overwrite: true);
        File.WriteAllText(PathOf(Dead, file + ".error"), reason + "\n");
    }

    private void ApplyCancelRequests()
    {
        string[] requests;
        try
        {
            requests = Directory.GetFiles(Path.Combine(Root, Cancel));
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }
        foreach (var request in requests)
        {
            if (!long.TryParse(Path.GetFileName(request), NumberStyles.None, CultureInfo.InvariantCulture, out var jobId))
            {
                continue;
            }
            var reason = SafeRead(request).Trim();
            if (_cancellations.Cancel(jobId, reason))
            {
                _logger.LogInformation("Job {JobId} cancelled: {Reason}", jobId, reason);
                TryDelete(request);
                continue;
            }
            var waiting = PathOf(Created, FileName(jobId));
            if (File.Exists(waiting))
            {
                try
                {
                    File.Move(waiting, PathOf(Finished, FileName(jobId)));
                    File.WriteAllText(PathOf(Finished, $"{jobId}.state"), "cancelled\n");
                    File.AppendAllText(PathOf(Logs, $"{jobId}.log"), $"Done: Job Cancelled\n\n{reason}\n");
                    TryDelete(request);
                }
                catch (IOException)
                {
                    // Claimed in the meantime; the next pass cancels it while it runs.
                }
            }
            else if (File.Exists(PathOf(Finished, FileName(jobId))))
            {
                TryDelete(request);
            }
        }
    }

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }
}
