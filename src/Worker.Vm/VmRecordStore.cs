using System.Globalization;
using System.Text.Json;

namespace Worker.Vm;

/// <summary>
/// What Tart and Vetu can't keep: labels. Each VM this worker makes gets a record
/// <c>NAME.json</c> (its fleet, job, worker host, creation time and deadline), written before the
/// clone, and a lock file <c>NAME.lock</c> beside it holding the worker's pid, locked by the worker
/// process (flock) for as long as it uses the VM and removed when it lets go (<see cref="VmLockFile"/>).
/// The cleanup sidecar reads the records and tries the locks: a VM nobody holds is left over, whatever
/// its state. Lock files that outlive their worker with no record beside them are swept too. Records
/// live under <c>WORKER_BASE_DIR</c>, so the sidecar must share that folder with the workers of its host.
/// </summary>
public sealed class VmRecordStore(string directory)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public string Directory { get; } = directory;

    /// <summary>
    /// Takes the VM's lock, then writes its record, holding the lock all along. Throws when a record of
    /// that name exists (names are never reused).
    /// </summary>
    public VmRecordLock Create(string name, string tool, IReadOnlyDictionary<string, string> labels)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var lockFile = VmLockFile.Take(LockPath(name));
        try
        {
            if (File.Exists(RecordPath(name)))
            {
                throw new IOException($"a record of VM {name} exists already");
            }
            // A stray lock file of this name (see SweepStrayLocks) may hold a dead worker's pid.
            lockFile.SetLength(0);
            using (var writer = new StreamWriter(lockFile, leaveOpen: true))
            {
                writer.WriteLine(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            }
            lockFile.Flush();
            var record = new VmRecord(name, tool, Environment.ProcessId, new Dictionary<string, string>(labels));
            Write(record);
            return new VmRecordLock(this, record, lockFile);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>The record of <paramref name="name"/>, or null when there is none (or it can't be read).</summary>
    public VmRecord? Read(string name)
    {
        try
        {
            return JsonSerializer.Deserialize<VmRecord>(File.ReadAllText(RecordPath(name)));
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Every record in the folder.</summary>
    public IEnumerable<VmRecord> ReadAll()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            yield break;
        }
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*.json"))
        {
            if (Read(Path.GetFileNameWithoutExtension(path)) is { } record)
            {
                yield return record;
            }
        }
    }

    /// <summary>Whether a live process holds the VM's lock now.</summary>
    public bool IsHeld(string name) => VmLockFile.IsHeld(LockPath(name));

    /// <summary>
    /// Lock files with no record beside them that no live process holds, removed (with
    /// <paramref name="dryRun"/>, only found); returns their paths. A worker killed between taking a
    /// VM's lock and writing its record, or between removing the record and the lock, leaves one. It
    /// belongs to no VM: the record is written before the clone and removed after the delete.
    /// </summary>
    public IReadOnlyList<string> SweepStrayLocks(bool dryRun)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }
        var stray = new List<string>();
        foreach (var path in System.IO.Directory.GetFiles(Directory, "*.lock"))
        {
            // One with a record is judged with its VM (VmInventory). One whose maker writes the record now
            // is held: the lock is taken first and kept.
            if (File.Exists(RecordPath(Path.GetFileNameWithoutExtension(path))))
            {
                continue;
            }
            if (dryRun ? File.Exists(path) && !VmLockFile.IsHeld(path) : VmLockFile.RemoveIfUnheld(path))
            {
                stray.Add(path);
            }
        }
        return stray;
    }

    /// <summary>
    /// Records a worker was writing when it was killed (<c>NAME.json.tmp</c>: a record is written
    /// beside its place, then moved there) that no live process holds the lock of, removed (with
    /// <paramref name="dryRun"/>, only found); returns their paths. The removal holds the VM's lock,
    /// as every writer does, so it can't take a file being written.
    /// </summary>
    public IReadOnlyList<string> SweepUnfinishedRecords(bool dryRun)
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }
        var unfinished = new List<string>();
        foreach (var path in System.IO.Directory.GetFiles(Directory, "*" + UnfinishedSuffix))
        {
            var name = Path.GetFileName(path)[..^UnfinishedSuffix.Length];
            var found = dryRun
                ? !VmLockFile.IsHeld(LockPath(name))
                : VmLockFile.WhileUnheld(LockPath(name), () => File.Delete(path));
            if (found)
            {
                unfinished.Add(path);
            }
        }
        return unfinished;
    }

    /// <summary>Both kinds of leftover file (<see cref="SweepStrayLocks"/>, <see cref="SweepUnfinishedRecords"/>).</summary>
    public IReadOnlyList<string> SweepLeftovers(bool dryRun) => [.. SweepStrayLocks(dryRun), .. SweepUnfinishedRecords(dryRun)];

    /// <summary>Removes a VM's record, and its lock file unless a live process holds it (after the VM was deleted).</summary>
    public void Remove(string name)
    {
        RemoveRecord(name);
        VmLockFile.RemoveIfUnheld(LockPath(name));
    }

    internal void RemoveRecord(string name) => File.Delete(RecordPath(name));

    internal void Write(VmRecord record)
    {
        var temporary = Path.Combine(Directory, record.Name + UnfinishedSuffix);
        File.WriteAllText(temporary, JsonSerializer.Serialize(record, Json));
        File.Move(temporary, RecordPath(record.Name), overwrite: true);
    }

    private const string UnfinishedSuffix = ".json.tmp";

    private string RecordPath(string name) => Path.Combine(Directory, name + ".json");

    private string LockPath(string name) => Path.Combine(Directory, name + ".lock");
}
