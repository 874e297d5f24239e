using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace Worker.Core.Jobs;

/// <summary>
/// This host's record of the job messages it finished lately (the newest <see cref="Capacity"/>),
/// consulted before a redelivered message runs: a message whose ack was lost (the broker restarted
/// before it took the ack, or the worker died between its result and its ack) comes back flagged as
/// redelivered, and must not run a second time. Kept in memory and appended to a file under
/// <c>WORKER_BASE_DIR</c>, so a worker started again on the same host still knows. The file is
/// rewritten with the newest entries once it holds twice as many (another worker's of this host
/// are kept, the newest <see cref="Capacity"/> of them); a record that can't be written is logged
/// and only costs that protection.
/// </summary>
/// <remarks>
/// Each entry is one write to a file kept open, as it is added beside its job's ack, on the path of
/// every job: opening and closing the file for each line cost 35 us a job. The write is unbuffered,
/// so the line is in the kernel once added and outlives a killed worker, and appends (see
/// <see cref="AppendOnlyFile"/>), so the workers of one host writing at once keep all their lines.
/// Whether the file is still there (a cleaned BASE_DIR) is looked up at most every
/// <see cref="RecheckAfter"/> rather than for each entry (a path lookup was a quarter of an entry's cost); a file found gone is written again
/// whole from memory, so the entries that went to it meanwhile are not lost with it. Another worker
/// of this host that compacts the file puts a new one in its place, without the lines appended
/// here while it wrote it; found at the same look (on Linux, where an unlinked open file can be
/// told), this record's entries are appended to the new file again.
/// </remarks>
public sealed class FinishedJobs : IDisposable
{
    public const int DefaultCapacity = 10_000;

    /// <summary>How long the file is trusted to be where it was.</summary>
    public static readonly TimeSpan RecheckAfter = TimeSpan.FromMilliseconds(100);

    private readonly object _lock = new();
    // Each entry with its line as written, so a compaction writes them again without serializing.
    private readonly Dictionary<string, Recorded> _byKey = [];
    private readonly Queue<string> _order = new();
    private readonly string? _path;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly ArrayBufferWriter<byte> _line = new(512);
    private readonly Utf8JsonWriter _lineWriter;
    private AppendOnlyFile? _file;
    private bool _lineCutShort;
    private int _linesInFile;
    // Keys this record let go of (the oldest, past its capacity) whose lines are still in the file:
    // a compaction drops them, and keeps every other line it does not hold (another worker's).
    private readonly HashSet<string> _evicted = [];
    private int _compactAt;
    private long _checkedAt;

    /// <param name="path">The file the record is kept in; null: in memory only.</param>
    public FinishedJobs(string? path, ILogger logger, int capacity = DefaultCapacity, TimeProvider? clock = null)
    {
        _path = path;
        _logger = logger;
        _clock = clock ?? TimeProvider.System;
        _checkedAt = _clock.GetTimestamp();
        Capacity = capacity;
        _compactAt = 2 * capacity;
        _lineWriter = new Utf8JsonWriter(_line);
        Load();
    }

    public int Capacity { get; }

    /// <summary>What this host recorded for the message; null if it did not finish it lately.</summary>
    public FinishedJob? Find(string key)
    {
        lock (_lock)
        {
            return _byKey.TryGetValue(key, out var recorded) ? recorded.Job : null;
        }
    }

    /// <summary>Records a finished message; call once its result is safe, and no later than its ack.</summary>
    public void Add(FinishedJob job)
    {
        lock (_lock)
        {
            if (_path is null)
            {
                Remember(job, []);
                return;
            }
            _line.ResetWrittenCount();
            _lineWriter.Reset(_line);
            // A write that failed may have left part of a line: the next entry starts on a line of its own.
            if (_lineCutShort)
            {
                _line.Write("\n"u8);
            }
            var start = _line.WrittenCount;
            JsonSerializer.Serialize(_lineWriter, job, FinishedJobsJson.Default.FinishedJob);
            _lineWriter.Flush();
            Remember(job, _line.WrittenSpan[start..].ToArray());
            _line.Write("\n"u8);
            try
            {
                if (_file is not null && FileLost() is var lost && lost != Loss.None)
                {
                    // The lines written to it since the last look went with it, so the whole record
                    // (this entry too) is written again: removed under us (BASE_DIR cleaned), to a
                    // new file; replaced by another worker of this host that compacted it, appended
                    // to the new one (duplicates of lines it kept are harmless: a key read twice is
                    // one entry).
                    CloseFile();
                    Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
                    if (lost == Loss.Removed)
                    {
                        Compact();
                    }
                    else
                    {
                        _file = OpenForAppend(_path);
                        _file.Append(Joined(OwnLines()));
                        _linesInFile += _order.Count;
                    }
                    _lineCutShort = false;
                    return;
                }
                // Appended as one write at the file's end: another worker of this host may append too.
                _file ??= OpenForAppend(_path);
                _file.Append(_line.WrittenSpan);
                _lineCutShort = false;
                if (++_linesInFile > _compactAt)
                {
                    Compact();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Opened again for the next entry: the directory may have been removed, or the disk filled up.
                CloseFile();
                _lineCutShort = true;
                _logger.LogWarning("Could not record finished job {JobId} in {Path} ({Error}); a redelivery of it after a worker restart would run it again",
                    job.JobId, _path, e.Message);
            }
        }
    }

    private enum Loss
    {
        None,
        Removed,
        Replaced,
    }

    private Loss FileLost()
    {
        if (_clock.GetElapsedTime(_checkedAt) < RecheckAfter)
        {
            return Loss.None;
        }
        _checkedAt = _clock.GetTimestamp();
        return !File.Exists(_path) ? Loss.Removed
            : _file!.Unlinked() ? Loss.Replaced
            : Loss.None;
    }

    /// <summary>The lines of the entries kept in memory, oldest first, without their newlines.</summary>
    private IEnumerable<ReadOnlyMemory<byte>> OwnLines() => _order.Select(key => (ReadOnlyMemory<byte>)_byKey[key].Line);

    /// <summary>Lines as one block, each ending in a newline.</summary>
    private static byte[] Joined(IEnumerable<ReadOnlyMemory<byte>> lines)
    {
        var block = new ArrayBufferWriter<byte>();
        foreach (var line in lines)
        {
            block.Write(line.Span);
            block.Write("\n"u8);
        }
        return block.WrittenSpan.ToArray();
    }

    /// <summary>A line of the file as an entry; null for a line cut short by a crash mid-write (the entries around it still count).</summary>
    private static FinishedJob? Entry(string line)
    {
        try
        {
            return JsonSerializer.Deserialize(line, FinishedJobsJson.Default.FinishedJob) is { Key: not null } job ? job : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Closes the file; an entry added later (a settlement finishing late) opens it again.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            CloseFile();
        }
    }

    private static AppendOnlyFile OpenForAppend(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return AppendOnlyFile.Open(path);
    }

    private void CloseFile()
    {
        try
        {
            _file?.Dispose();
        }
        catch (IOException)
        {
        }
        _file = null;
    }

    private void Remember(FinishedJob job, byte[] line)
    {
        if (_byKey.TryAdd(job.Key, new Recorded(job, line)))
        {
            _order.Enqueue(job.Key);
        }
        else
        {
            _byKey[job.Key] = new Recorded(job, line);
        }
        while (_order.Count > Capacity)
        {
            var evicted = _order.Dequeue();
            _byKey.Remove(evicted);
            _evicted.Add(evicted);
        }
    }

    private void Load()
    {
        if (_path is null || !File.Exists(_path))
        {
            return;
        }
        try
        {
            foreach (var line in File.ReadLines(_path))
            {
                _linesInFile++;
                if (Entry(line) is { } job)
                {
                    Remember(job, System.Text.Encoding.UTF8.GetBytes(line));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("Could not read the finished jobs recorded in {Path} ({Error}); starting without them", _path, e.Message);
        }
    }

    /// <summary>
    /// Writes a new file and puts it in place of the old one: the newest <see cref="Capacity"/>
    /// entries in the file that are not this record's (another worker of this host appends to the
    /// same file), then the entries kept in memory. Lines are copied, not made again: it runs
    /// under the lock, on the path of the job whose entry filled the file, and reading every line
    /// as an entry and writing every entry anew stalled that job and any other finishing meanwhile
    /// for about 50 ms (`record` benchmark: 6.2 to 6.5 us an entry with compactions against 2.2 to
    /// 2.5 without; copied, 3.7 to 4.7 against 2.8 to 3.2, the longest entry 17 to 25 ms).
    /// </summary>
    private void Compact()
    {
        CloseFile();
        var others = LinesOfOthers();
        // A name of its own: another worker may be compacting the same file now.
        var fresh = $"{_path}.{Environment.ProcessId}.new";
        using (var file = new FileStream(fresh, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 64 * 1024))
        {
            foreach (var line in others.Concat(OwnLines()))
            {
                file.Write(line.Span);
                file.WriteByte((byte)'\n');
            }
        }
        File.Move(fresh, _path!, overwrite: true);
        _evicted.Clear();
        _linesInFile = others.Count + _order.Count;
        _compactAt = Math.Max(2 * Capacity, _linesInFile + Capacity);
    }

    /// <summary>
    /// The lines of the file that are neither this record's entries nor ones it let go of: the newest
    /// <see cref="Capacity"/>, the last line of each key, as they are.
    /// </summary>
    private List<ReadOnlyMemory<byte>> LinesOfOthers()
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(_path!);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
        var others = new Dictionary<string, (ReadOnlyMemory<byte> Line, DateTimeOffset RecordedAt)>();
        ReadOnlyMemory<byte> rest = file;
        while (!rest.IsEmpty)
        {
            var end = rest.Span.IndexOf((byte)'\n');
            var line = end < 0 ? rest : rest[..end];
            rest = end < 0 ? ReadOnlyMemory<byte>.Empty : rest[(end + 1)..];
            if (SkimOthers(line.Span) is { } entry)
            {
                others[entry.Key] = (line, entry.RecordedAt);
            }
        }
        return [.. others.Values.OrderBy(other => other.RecordedAt).TakeLast(Capacity).Select(other => other.Line)];
    }

    /// <summary>
    /// A line of another worker's: its key and the time it was recorded, read without making an
    /// entry of it. Null for a line of a key this record holds or let go of (its first property is
    /// the key, as entries are written: the rest of it is not read), and for a line that is not one
    /// whole JSON object with a key (cut short by a crash mid-write).
    /// </summary>
    private (string Key, DateTimeOffset RecordedAt)? SkimOthers(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            string? key = null;
            DateTimeOffset recordedAt = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isKey = reader.ValueTextEquals("key"u8);
                var isRecordedAt = !isKey && reader.ValueTextEquals("recordedAt"u8);
                reader.Read();
                if (isKey && reader.TokenType == JsonTokenType.String)
                {
                    if (KnownHere(ref reader))
                    {
                        return null;
                    }
                    key = reader.GetString();
                }
                else if (isRecordedAt && reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var at))
                {
                    recordedAt = at;
                }
                else
                {
                    reader.Skip();
                }
            }
            // The object's end, and nothing after it: the reader throws on anything but whitespace.
            return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && key is not null ? (key, recordedAt) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not UTF-8 (a line cut inside a character, then joined to the next).
            return null;
        }
    }

    /// <summary>Whether the key the reader is on is one this record holds or let go of; looked up without making a string of it.</summary>
    private bool KnownHere(ref Utf8JsonReader reader)
    {
        const int MaxStackKey = 256; // UTF-8 bytes, so at most as many chars
        if (reader.HasValueSequence || reader.ValueSpan.Length > MaxStackKey)
        {
            var key = reader.GetString()!;
            return _byKey.ContainsKey(key) || _evicted.Contains(key);
        }
        Span<char> buffer = stackalloc char[MaxStackKey];
        var chars = buffer[..reader.CopyString(buffer)];
        return _byKey.GetAlternateLookup<ReadOnlySpan<char>>().ContainsKey(chars) || _evicted.GetAlternateLookup<ReadOnlySpan<char>>().Contains(chars);
    }

    /// <summary>An entry held in memory, and its line as it was written (without the newline).</summary>
    private readonly record struct Recorded(FinishedJob Job, byte[] Line);
}

/// <summary>
/// A job message this host finished. <paramref name="Outcome"/> is the finish state's wire name, or
/// <c>requeued</c> for a run that put a copy of the job back on the queue; the rest is what its
/// finish state update carried, so it can be sent again as it was. <paramref name="Uuid"/> is the
/// run's (one the worker made where the payload had none); null in lines written before it was kept.
/// </summary>
public sealed record FinishedJob(
    string Key,
    long JobId,
    string Outcome,
    int StateUpdateCount,
    string? InstanceId,
    DateTimeOffset? ReceivedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset RecordedAt,
    string? Uuid = null)
{
    public const string Requeued = "requeued";
}

/// <summary>The record's lines: the web's defaults (camelCase names), serialized by generated code.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(FinishedJob))]
internal sealed partial class FinishedJobsJson : JsonSerializerContext;
