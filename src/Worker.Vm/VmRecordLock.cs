namespace Worker.Vm;

/// <summary>
/// A worker's hold on one VM: the open, locked lock file. <see cref="Release"/> lets go of it (and
/// removes it); <see cref="Forget"/> also removes the record, once the VM is deleted.
/// </summary>
public sealed class VmRecordLock(VmRecordStore store, VmRecord record, FileStream lockFile) : IDisposable
{
    private readonly Lock _gate = new();
    private bool _released;

    public VmRecord Record { get; private set; } = record;

    /// <summary>Replaces the labels (a standby taken by a job gets the job's id and deadline).</summary>
    public void Relabel(IReadOnlyDictionary<string, string> labels)
    {
        lock (_gate)
        {
            Record = Record with { Labels = new Dictionary<string, string>(labels) };
            store.Write(Record);
        }
    }

    /// <summary>The VM is gone: its record and lock file go too, the record first, while the lock is held.</summary>
    public void Forget()
    {
        lock (_gate)
        {
            store.RemoveRecord(Record.Name);
            Release();
        }
    }

    /// <summary>Lets go of the VM; its record stays, so cleanup sees a VM nobody holds.</summary>
    /// <remarks>Disposing the lock file removes it before letting go of the lock (<see cref="VmLockFile"/>).</remarks>
    public void Release()
    {
        lock (_gate)
        {
            if (!_released)
            {
                _released = true;
                lockFile.Dispose();
            }
        }
    }

    public void Dispose() => Release();
}
