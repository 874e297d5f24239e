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
    private readonly Dictionary<string, FinishedJob> _byKey = [];
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
            return _byKey.GetValueOrDefault(key);
        }
    }

    /// <summary>Records a finished message; call once its result is safe, and no later than its ack.</summary>
    public void Add(FinishedJob job)
    {
        lock (_lock)
        {
            Remember(job);
            if (_path is null)
            {
                return;
            }
            try
            {
                _line.ResetWrittenCount();
                _lineWriter.Reset(_line);
                // A write that failed may have left part of a line: the next entry starts on a line of its own.
                if (_lineCutShort)
                {
                    _line.Write("\n"u8);
                }
                JsonSerializer.Serialize(_lineWriter, job, FinishedJobsJson.Default.FinishedJob);
                _lineWriter.Flush();
                _line.Write("\n"u8);
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
                        _file.Append(Lines(Entries()));
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

    /// <summary>The entries kept in memory, oldest first.</summary>
    private IEnumerable<FinishedJob> Entries() => _order.Select(key => _byKey[key]);

    /// <summary>Entries as the file's lines.</summary>
    private static byte[] Lines(IEnumerable<FinishedJob> entries)
    {
        var lines = new ArrayBufferWriter<byte>();
        using var writer = new Utf8JsonWriter(lines);
        foreach (var entry in entries)
        {
            JsonSerializer.Serialize(writer, entry, FinishedJobsJson.Default.FinishedJob);
            writer.Flush();
            writer.Reset();
            lines.Write("\n"u8);
        }
        return lines.WrittenSpan.ToArray();
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

    private void Remember(FinishedJob job)
    {
        if (_byKey.TryAdd(job.Key, job))
        {
            _order.Enqueue(job.Key);
        }
        else
        {
            _byKey[job.Key] = job;
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
                    Remember(job);
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
    /// same file), then the entries kept in memory.
    /// </summary>
    private void Compact()
    {
        CloseFile();
        var others = EntriesOfOthers();
        // A name of its own: another worker may be compacting the same file now.
        var fresh = $"{_path}.{Environment.ProcessId}.new";
        File.WriteAllBytes(fresh, Lines(others.Concat(Entries())));
        File.Move(fresh, _path!, overwrite: true);
        _evicted.Clear();
        _linesInFile = others.Count + _order.Count;
        _compactAt = Math.Max(2 * Capacity, _linesInFile + Capacity);
    }

    private List<FinishedJob> EntriesOfOthers()
    {
        if (!File.Exists(_path))
        {
            return [];
        }
        var others = new Dictionary<string, FinishedJob>();
        foreach (var job in File.ReadLines(_path!).Select(Entry))
        {
            if (job is not null && !_byKey.ContainsKey(job.Key) && !_evicted.Contains(job.Key))
            {
                others[job.Key] = job;
            }
        }
        return [.. others.Values.OrderBy(job => job.RecordedAt).TakeLast(Capacity)];
    }
}

/// <summary>
/// A job message this host finished. <paramref name="Outcome"/> is the finish state's wire name, or
/// <c>requeued</c> for a run that put a copy of the job back on the queue; the rest is what its
/// finish state update carried, so it can be sent again as it was.
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
    DateTimeOffset RecordedAt)
{
    public const string Requeued = "requeued";
}

/// <summary>The record's lines: the web's defaults (camelCase names), serialized by generated code.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(FinishedJob))]
internal sealed partial class FinishedJobsJson : JsonSerializerContext;
