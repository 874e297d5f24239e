using System.Globalization;
using System.Text.Json;

namespace Worker.Vm;

/// <summary>
/// What Tart and Vetu can't keep: labels. Each VM this worker makes gets a record
/// <c>NAME.json</c> (its fleet, job, worker host, creation time and deadline), written before the
/// clone, and a lock file <c>NAME.lock</c> beside it holding the worker's pid, locked by the worker
/// process (flock) for as long as it uses the VM. The cleanup sidecar reads the records and tries
/// the locks: a VM nobody holds is left over, whatever its state. Records live under
/// <c>WORKER_BASE_DIR</c>, so the sidecar must share that folder with the workers of its host.
/// </summary>
public sealed class VmRecordStore(string directory)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public string Directory { get; } = directory;

    /// <summary>Takes the VM's lock, then writes its record. Throws when a record of that name exists (names are never reused).</summary>
    public VmRecordLock Create(string name, string tool, IReadOnlyDictionary<string, string> labels)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var lockFile = new FileStream(LockPath(name), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try
        {
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
            File.Delete(LockPath(name));
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
    public bool IsHeld(string name)
    {
        try
        {
            // Opening with no sharing takes the same lock: it succeeds only when nobody holds it.
            using var probe = new FileStream(LockPath(name), FileMode.Open, FileAccess.Read, FileShare.None);
            return false;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Removes a VM's record and lock file (after the VM was deleted).</summary>
    public void Remove(string name)
    {
        File.Delete(RecordPath(name));
        File.Delete(LockPath(name));
    }

    internal void Write(VmRecord record)
    {
        var temporary = RecordPath(record.Name) + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(record, Json));
        File.Move(temporary, RecordPath(record.Name), overwrite: true);
    }

    private string RecordPath(string name) => Path.Combine(Directory, name + ".json");

    private string LockPath(string name) => Path.Combine(Directory, name + ".lock");
}
