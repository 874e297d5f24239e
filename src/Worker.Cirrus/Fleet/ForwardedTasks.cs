using System.Text.Json;
using System.Text.Json.Serialization;

namespace Worker.Cirrus.Fleet;

/// <summary>
/// The tasks a bridge put on the job queue and has not yet reported stopped, in a file under
/// <c>WORKER_BASE_DIR</c>, so a bridge restarted mid-task still sends each its <c>TaskStopped</c>.
/// Each change rewrites the file whole (a temporary file renamed over it), readable by its owner
/// only: it holds the tasks' secrets, as their queued payloads do.
/// </summary>
public sealed class ForwardedTasks
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ForwardedTask> _tasks;

    private ForwardedTasks(string path, Dictionary<string, ForwardedTask> tasks)
    {
        _path = path;
        _tasks = tasks;
    }

    /// <summary>The tasks a previous run left in <paramref name="path"/> (none when there is no file).</summary>
    public static ForwardedTasks Open(string path)
    {
        var tasks = new Dictionary<string, ForwardedTask>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            foreach (var task in JsonSerializer.Deserialize<List<ForwardedTask>>(File.ReadAllText(path), Json) ?? [])
            {
                tasks[task.TaskId] = task;
            }
        }
        return new ForwardedTasks(path, tasks);
    }

    public IReadOnlyList<ForwardedTask> All
    {
        get
        {
            lock (_lock)
            {
                return [.. _tasks.Values];
            }
        }
    }

    public void Put(ForwardedTask task)
    {
        lock (_lock)
        {
            _tasks[task.TaskId] = task;
            Save();
        }
    }

    public ForwardedTask? Find(string taskId)
    {
        lock (_lock)
        {
            return _tasks.GetValueOrDefault(taskId);
        }
    }

    /// <summary>Changes a task that is still here; null when it is gone.</summary>
    public ForwardedTask? Update(string taskId, Func<ForwardedTask, ForwardedTask> change)
    {
        lock (_lock)
        {
            if (!_tasks.TryGetValue(taskId, out var task))
            {
                return null;
            }
            _tasks[taskId] = task = change(task);
            Save();
            return task;
        }
    }

    public void Remove(string taskId)
    {
        lock (_lock)
        {
            if (_tasks.Remove(taskId))
            {
                Save();
            }
        }
    }

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temporary = _path + ".tmp";
        using (var file = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            JsonSerializer.Serialize(file, _tasks.Values.ToList(), Json);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, _path, overwrite: true);
    }
}

/// <summary>One forwarded task: enough to report it (its upstream, ID and secrets), to count it, and to queue it again.</summary>
/// <param name="Payload">The job as queued (JSON), so a bridge that stopped before the broker confirmed it can queue it again.</param>
/// <param name="FinalState">The job's finish state once a host reported it; the task is then only waiting to be reported stopped.</param>
public sealed record ForwardedTask(
    string TaskId,
    long JobId,
    string Endpoint,
    string ClientSecret,
    string ServerSecret,
    Dictionary<string, double> Resources,
    string Payload,
    bool Queued = false,
    bool Started = false,
    bool StopRequested = false,
    string? FinalState = null);
