using System.Text;
using Worker.Core.Jobs;

namespace Worker.Core.Logs;

/// <summary>
/// Turns a stream of text into numbered log parts: a part goes out when the buffer reaches the
/// size limit or when the flush interval passes, and the closing part carries <c>final</c> (unless
/// the log is closed to go on in a later attempt of the job). Parts are numbered from 0 with no gaps
/// and handed to the sink one at a time, in order.
/// </summary>
public sealed class LogPartBatcher : IAsyncDisposable
{
    private readonly ILogPartSink _sink;
    private readonly long _jobId;
    private readonly int _maxPartSize;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly StringBuilder _buffer = new();
    // Disposing the timer ends the timed flushes (on close) without an exception, which costs every
    // job on its critical path; _abort gives up a timed flush's write (only on dispose): a close must
    // wait for a write under way, or the text it carries is lost.
    private readonly PeriodicTimer _timer;
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _flusher;
    private int _nextNumber;
    private bool _closed;
    private Exception? _failure;

    public LogPartBatcher(ILogPartSink sink, long jobId, int maxPartSize, TimeSpan flushInterval, TimeProvider? clock = null)
    {
        _sink = sink;
        _jobId = jobId;
        _maxPartSize = maxPartSize;
        _timer = new PeriodicTimer(flushInterval, clock ?? TimeProvider.System);
        _flusher = FlushPeriodicallyAsync();
    }

    public int PartsSent => Volatile.Read(ref _nextNumber);

    public async ValueTask AppendAsync(string text, CancellationToken ct)
    {
        if (text.Length == 0)
        {
            return;
        }
        await _gate.WaitAsync(ct);
        try
        {
            ThrowIfFailedOrClosed();
            _buffer.Append(text);
            while (_buffer.Length >= _maxPartSize)
            {
                var length = _maxPartSize;
                if (char.IsHighSurrogate(_buffer[length - 1]))
                {
                    length--; // never split a surrogate pair across parts
                }
                var content = _buffer.ToString(0, length);
                _buffer.Remove(0, length);
                await SendAsync(content, false, ct);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Sends what is buffered now, if anything.</summary>
    public async ValueTask FlushAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (_closed || _buffer.Length == 0 || _failure is not null)
            {
                return;
            }
            var content = _buffer.ToString();
            _buffer.Clear();
            await SendAsync(content, false, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Sends the rest of the buffer as the final part. Idempotent.</summary>
    /// <param name="ct">Gives up the close.</param>
    /// <param name="final">
    /// False: the log goes on in the job's next attempt, which sends its end; the rest goes as an
    /// ordinary part (none if nothing is buffered) and no final part is sent.
    /// </param>
    public async ValueTask CloseAsync(CancellationToken ct, bool final = true)
    {
        _timer.Dispose();
        await _gate.WaitAsync(ct);
        try
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            var content = _buffer.ToString();
            _buffer.Clear();
            if (final || content.Length > 0)
            {
                await SendAsync(content, final, ct);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _timer.Dispose();
        _abort.Cancel();
        await _flusher;
        _abort.Dispose();
    }

    private async Task SendAsync(string content, bool final, CancellationToken ct)
    {
        var part = new LogPart(_jobId, _nextNumber, content, final);
        try
        {
            await _sink.WritePartAsync(part, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _failure = e;
            throw;
        }
        Interlocked.Increment(ref _nextNumber);
    }

    private void ThrowIfFailedOrClosed()
    {
        if (_failure is not null)
        {
            throw new IOException("the job's log can't be delivered: " + _failure.Message, _failure);
        }
        if (_closed)
        {
            throw new InvalidOperationException("the job's log is closed");
        }
    }

    private async Task FlushPeriodicallyAsync()
    {
        // False once the timer is disposed (closed or disposed).
        while (await _timer.WaitForNextTickAsync())
        {
            try
            {
                await FlushAsync(_abort.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception)
            {
                // The failure is kept and surfaces on the next write or on close.
            }
        }
    }
}
