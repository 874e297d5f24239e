using System.Text;
using Worker.Core.Jobs;

namespace Worker.Core.Logs;

/// <summary>
/// A job's log as the pipeline and the backends see it: masks secrets, counts bytes against the
/// maximum log length, remembers when output last arrived (for the silence timeout), and hands the
/// text to a <see cref="LogPartBatcher"/>.
/// </summary>
public sealed class JobLogWriter : IJobLogWriter, IAsyncDisposable
{
    private readonly LogPartBatcher _batcher;
    private readonly SecretMasker _masker;
    private readonly long _maxLength;
    private readonly TimeProvider _clock;
    private readonly object _maskLock = new();
    private readonly CancellationTokenSource _limitReached = new();
    private long _length;
    private int _disposed;
    private long _lastOutputTicks;

    public JobLogWriter(ILogPartSink sink, long jobId, IEnumerable<string> secrets, long maxLength,
        int maxPartSize, TimeSpan flushInterval, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        _batcher = new LogPartBatcher(sink, jobId, maxPartSize, flushInterval, _clock);
        _masker = new SecretMasker(secrets);
        _maxLength = maxLength;
        _lastOutputTicks = _clock.GetTimestamp();
    }

    /// <summary>Fires once the log reached its maximum length; the pipeline stops the script.</summary>
    public CancellationToken LimitReached => _limitReached.Token;

    public long Length => Interlocked.Read(ref _length);

    public int PartsSent => _batcher.PartsSent;

    /// <summary>How long since the script last wrote anything (or since <see cref="ResetSilence"/>).</summary>
    public TimeSpan SinceLastOutput => _clock.GetElapsedTime(Interlocked.Read(ref _lastOutputTicks));

    public void ResetSilence() => Interlocked.Exchange(ref _lastOutputTicks, _clock.GetTimestamp());

    public async ValueTask WriteAsync(string text, CancellationToken ct = default)
    {
        if (text.Length == 0)
        {
            return;
        }
        ResetSilence();
        if (_limitReached.IsCancellationRequested)
        {
            return;
        }
        var bytes = Encoding.UTF8.GetByteCount(text);
        if (Interlocked.Add(ref _length, bytes) > _maxLength)
        {
            // Like travis: the write that crosses the limit is dropped and the job is stopped.
            await _limitReached.CancelAsync();
            return;
        }
        string safe;
        lock (_maskLock)
        {
            safe = _masker.Push(text);
        }
        await _batcher.AppendAsync(safe, ct);
    }

    /// <summary>
    /// A message from the worker itself (worker info, outcome); not counted against the limit. It is
    /// masked whole and goes out at once; script output held back as the start of a secret stays
    /// held and follows it, so a message can't cut a secret in two halves that each pass unmasked.
    /// </summary>
    public async ValueTask WriteWorkerMessageAsync(string text, CancellationToken ct = default)
    {
        string safe;
        lock (_maskLock)
        {
            safe = _masker.MaskAll(text);
        }
        await _batcher.AppendAsync(safe, ct);
    }

    /// <summary>Sends everything still buffered and the final part.</summary>
    /// <param name="ct">Gives up the close.</param>
    /// <param name="final">False: the log goes on in the job's next attempt (see <see cref="IJob.RequeueContinuesLog"/>); no final part.</param>
    public async ValueTask CloseAsync(CancellationToken ct, bool final = true)
    {
        string rest;
        lock (_maskLock)
        {
            rest = _masker.Flush();
        }
        await _batcher.AppendAsync(rest, ct);
        await _batcher.CloseAsync(ct, final);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Telemetry.WorkerMetrics.LogBytes.Add(Length);
        }
        await _batcher.DisposeAsync();
        _limitReached.Dispose();
    }
}
