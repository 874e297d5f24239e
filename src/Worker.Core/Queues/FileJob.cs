using System.Text;
using System.Text.Json.Nodes;
using Worker.Core.Jobs;

namespace Worker.Core.Queues;

/// <summary>A job of the <see cref="FileJobQueue"/>: each transition renames its file into the next folder.</summary>
internal sealed class FileJob : JobBase
{
    private readonly FileJobQueue _queue;
    private readonly string _file;
    private readonly ILogPartSink? _tee;
    private string _folder = FileJobQueue.Received;

    public FileJob(FileJobQueue queue, JobPayload payload, int requeueCount, string file, ILogPartSink? tee)
        : base(payload, requeueCount)
    {
        _queue = queue;
        _file = file;
        _tee = tee;
    }

    public override Task<ILogPartSink> OpenLogAsync(CancellationToken ct) =>
        Task.FromResult<ILogPartSink>(new FileLogSink(_queue.PathOf(FileJobQueue.Logs, $"{Payload.JobId}.log"), _tee));

    protected override Task OnReceivedAsync(CancellationToken ct) => Task.CompletedTask;

    protected override Task OnStartedAsync(string instanceId, CancellationToken ct)
    {
        MoveTo(FileJobQueue.Started);
        return Task.CompletedTask;
    }

    protected override Task OnFinishAsync(FinishState state, CancellationToken ct)
    {
        File.WriteAllText(_queue.PathOf(FileJobQueue.Finished, $"{Payload.JobId}.state"), state.WireName() + "\n");
        MoveTo(FileJobQueue.Finished);
        return Task.CompletedTask;
    }

    protected override Task OnRequeueAsync(string reason, bool counted, CancellationToken ct)
    {
        var payload = Payload.Clone();
        if (payload.Root["meta"] is not JsonObject meta)
        {
            meta = new JsonObject();
            payload.Root["meta"] = meta;
        }
        meta["requeue_count"] = RequeueCount + (counted ? 1 : 0);
        var current = _queue.PathOf(_folder, _file);
        File.WriteAllText(current, payload.ToJson());
        MoveTo(FileJobQueue.Created);
        return Task.CompletedTask;
    }

    protected override Task OnDeadLetterAsync(string reason, CancellationToken ct)
    {
        _queue.DeadLetter(_queue.PathOf(_folder, _file), _file, reason);
        return Task.CompletedTask;
    }

    private void MoveTo(string folder)
    {
        File.Move(_queue.PathOf(_folder, _file), _queue.PathOf(folder, _file), overwrite: true);
        _folder = folder;
    }

    private sealed class FileLogSink(string path, ILogPartSink? tee) : ILogPartSink
    {
        public async ValueTask WritePartAsync(LogPart part, CancellationToken ct)
        {
            if (part.Content.Length > 0)
            {
                await File.AppendAllTextAsync(path, part.Content, Encoding.UTF8, ct);
            }
            if (tee is not null)
            {
                await tee.WritePartAsync(part, ct);
            }
        }
    }
}
