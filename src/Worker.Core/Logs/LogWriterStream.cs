using System.Text;

namespace Worker.Core.Logs;

/// <summary>
/// A write-only stream over an <see cref="IJobLogWriter"/>, so a backend can copy a process's or a
/// container's byte output straight into the job log. UTF-8 sequences split across writes are kept
/// whole.
/// </summary>
public sealed class LogWriterStream(IJobLogWriter log) : Stream
{
    private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();
    private readonly object _lock = new();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) =>
        WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        string text;
        lock (_lock)
        {
            var chars = new char[_decoder.GetCharCount(buffer.Span, flush: false)];
            var n = _decoder.GetChars(buffer.Span, chars, flush: false);
            text = new string(chars, 0, n);
        }
        return log.WriteAsync(text, cancellationToken);
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
