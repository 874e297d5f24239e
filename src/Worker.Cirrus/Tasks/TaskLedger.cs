namespace Worker.Cirrus.Tasks;

/// <summary>
/// The tasks this worker holds, from the moment one is taken until its machine is gone, and what
/// they use. Poll reports exactly this (<c>running_tasks</c>, <c>resources_in_use</c>), so a task is
/// counted while it boots and tears down and never after: its <see cref="RunningTask"/> is disposed
/// on every path, including a task that never got a machine (cirrus-cli leaves those counted).
/// Admission follows Cirrus's rule: with no <c>resources</c> configured, one task at a time; with
/// resources, either one task that asks for none, or several that ask for some and fit together.
/// </summary>
public sealed class TaskLedger(IReadOnlyDictionary<string, double> total)
{
    // Amounts are sums of decimal fractions (0.1 + 0.2); a hair over the total still fits.
    private const double Tolerance = 1e-9;

    private readonly Dictionary<string, RunningTask> _tasks = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public IReadOnlyDictionary<string, double> Total { get; } = total;

    /// <summary>Takes the task, or says why it can't run now. A task already held is refused (Cirrus sent it twice).</summary>
    /// <param name="owner">Whose task it is (the upstream it came from): Poll reports each upstream its own.</param>
    public Admission Admit(string taskId, IReadOnlyDictionary<string, double> requested, ResourceModifierPool? modifiers = null, string owner = "")
    {
        lock (_lock)
        {
            if (_tasks.ContainsKey(taskId))
            {
                return new Admission(null, $"task {taskId} is already running here");
            }
            if (Refusal(requested) is { } reason)
            {
                return new Admission(null, reason);
            }
            var task = new RunningTask(this, taskId, owner, new Dictionary<string, double>(requested), modifiers?.Acquire(requested));
            _tasks[taskId] = task;
            return new Admission(task, null);
        }
    }

    /// <summary>
    /// Counts a task this worker took in an earlier run and still holds (fleet mode: its job runs on
    /// the fleet while the bridge restarted), whether or not it fits now: it runs already.
    /// </summary>
    public RunningTask? Readmit(string taskId, IReadOnlyDictionary<string, double> resources, string owner)
    {
        lock (_lock)
        {
            if (_tasks.ContainsKey(taskId))
            {
                return null;
            }
            var task = new RunningTask(this, taskId, owner, new Dictionary<string, double>(resources), null);
            _tasks[taskId] = task;
            return task;
        }
    }

    /// <summary>Whether <paramref name="requested"/> would be admitted now (e.g. to decide on a standby).</summary>
    public bool Fits(IReadOnlyDictionary<string, double> requested)
    {
        lock (_lock)
        {
            return Refusal(requested) is null;
        }
    }

    public IReadOnlyList<string> RunningTaskIds
    {
        get
        {
            lock (_lock)
            {
                return _tasks.Keys.ToList();
            }
        }
    }

    public IReadOnlyList<string> RunningTaskIdsOf(string owner)
    {
        lock (_lock)
        {
            return _tasks.Values.Where(t => t.Owner == owner).Select(t => t.TaskId).ToList();
        }
    }

    public RunningTask? Find(string taskId)
    {
        lock (_lock)
        {
            return _tasks.GetValueOrDefault(taskId);
        }
    }

    /// <summary>The sum of what the held tasks asked for; empty when idle.</summary>
    public Dictionary<string, double> InUse()
    {
        lock (_lock)
        {
            var sum = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var task in _tasks.Values)
            {
                foreach (var (key, amount) in task.Resources)
                {
                    sum[key] = sum.GetValueOrDefault(key) + amount;
                }
            }
            return sum;
        }
    }

    private string? Refusal(IReadOnlyDictionary<string, double> requested)
    {
        if (_tasks.Count == 0)
        {
            return null;
        }
        if (Total.Count == 0)
        {
            return "this worker runs one task at a time (no resources are configured) and one is running";
        }
        if (requested.Count == 0)
        {
            return "a task that asks for no resources runs alone, and other tasks are running";
        }
        if (_tasks.Values.Any(t => t.Resources.Count == 0))
        {
            return "a task that asks for no resources is running, and it runs alone";
        }
        var inUse = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (key, amount) in _tasks.Values.SelectMany(t => t.Resources))
        {
            inUse[key] = inUse.GetValueOrDefault(key) + amount;
        }
        foreach (var (key, amount) in requested)
        {
            var free = Total.GetValueOrDefault(key) - inUse.GetValueOrDefault(key);
            if (amount > free + Tolerance)
            {
                return $"the task asks for {key}: {amount}, and {free} of {Total.GetValueOrDefault(key)} is free";
            }
        }
        return null;
    }

    private void Remove(RunningTask task)
    {
        lock (_lock)
        {
            if (_tasks.TryGetValue(task.TaskId, out var held) && ReferenceEquals(held, task))
            {
                _tasks.Remove(task.TaskId);
            }
        }
    }

    /// <summary>The outcome of <see cref="Admit"/>: the held task, or why not.</summary>
    public sealed record Admission(RunningTask? Task, string? Refusal);

    /// <summary>
    /// One held task: its resources, its modifier lease, and the cancellation <c>tasks_to_stop</c>
    /// fires. Disposing removes it from the ledger and gives the modifier back, once.
    /// </summary>
    public sealed class RunningTask : IDisposable
    {
        private readonly TaskLedger _ledger;
        private readonly CancellationTokenSource _stop = new();
        private int _disposed;

        internal RunningTask(TaskLedger ledger, string taskId, string owner, IReadOnlyDictionary<string, double> resources, ResourceModifierPool.ModifierLease? modifier)
        {
            _ledger = ledger;
            TaskId = taskId;
            Owner = owner;
            Resources = resources;
            Modifier = modifier;
        }

        public string TaskId { get; }

        public string Owner { get; }

        public IReadOnlyDictionary<string, double> Resources { get; }

        /// <summary>The resource modifier this task holds (its <c>append.run</c> goes to <c>vetu run</c>), if any matched.</summary>
        public ResourceModifierPool.ModifierLease? Modifier { get; }

        /// <summary>Fires when Cirrus asks to stop the task.</summary>
        public CancellationToken StopRequested => _stop.Token;

        public void RequestStop()
        {
            try
            {
                _stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Already gone: nothing left to stop.
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }
            _ledger.Remove(this);
            Modifier?.Dispose();
            _stop.Dispose();
        }
    }
}
