namespace Worker.Vm;

/// <summary>
/// A VM's lock file, <c>NAME.lock</c>: locked (flock, exclusive) by the process that uses the VM, and
/// unlinked only by a process that holds it. .NET makes that safe for a file opened with
/// <see cref="FileMode.OpenOrCreate"/>, <see cref="FileShare.None"/> and
/// <see cref="FileOptions.DeleteOnClose"/> (dotnet/runtime#55327): having locked it, it checks that the path
/// still names the file it locked, and opens it again when not; disposing unlinks the path before it
/// lets go of the lock. So whoever holds a lock holds the file at its path: one removed while another
/// process was opening it is never locked in its place.
/// </summary>
internal static class VmLockFile
{
    private const int Attempts = 5;

    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(20);

    /// <summary>Takes the lock at <paramref name="path"/>, creating the file if needed; disposing the stream removes the file.</summary>
    public static FileStream Take(string path)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return Open(path, FileAccess.ReadWrite);
            }
            catch (IOException) when (attempt < Attempts)
            {
                // A sweep (RemoveIfUnheld) holds a new lock file for an instant when it opens it between
                // its maker's open and flock; it finds no record then, so it removes it and lets go.
                Thread.Sleep(Pause);
            }
        }
    }

    /// <summary>
    /// Removes the lock file at <paramref name="path"/> when no live process holds it; true when this did.
    /// False when it is held, or gone already.
    /// </summary>
    public static bool RemoveIfUnheld(string path) => File.Exists(path) && WhileUnheld(path, () => { });

    /// <summary>
    /// Runs <paramref name="action"/> holding the lock at <paramref name="path"/>, so no worker writes
    /// the VM's files meanwhile (they write only holding it); true when it ran. False when a live
    /// process holds it. The lock file is removed as the lock is let go, as always.
    /// </summary>
    public static bool WhileUnheld(string path, Action action)
    {
        FileStream held;
        try
        {
            // Reading is enough to lock it, and a sidecar running as another user may not write the workers' files.
            held = Open(path, FileAccess.Read);
        }
        catch (IOException)
        {
            return false;
        }
        using (held)
        {
            action();
            return true;
        }
    }

    /// <summary>Whether a live process holds the lock at <paramref name="path"/> now.</summary>
    public static bool IsHeld(string path)
    {
        try
        {
            // Opening with no sharing takes the same lock: it succeeds only when nobody holds it.
            using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None);
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

    private static FileStream Open(string path, FileAccess access) =>
        new(path, FileMode.OpenOrCreate, access, FileShare.None, bufferSize: 0, FileOptions.DeleteOnClose);
}
