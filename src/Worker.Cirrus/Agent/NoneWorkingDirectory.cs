using System.Runtime.InteropServices;

namespace Worker.Cirrus.Agent;

/// <summary>
/// The working directory of a task with isolation none, as cirrus-cli makes it:
/// <c>$TMPDIR/cirrus-build</c> when mkdir (0700) creates it, else a fresh
/// <c>$TMPDIR/cirrus-build-*</c> (another task holds the first). Removed when disposed.
/// </summary>
public sealed partial class NoneWorkingDirectory : IDisposable
{
    private const uint OwnerOnly = 0x1C0; // 0700

    private NoneWorkingDirectory(string path) => Path = path;

    public string Path { get; }

    public static NoneWorkingDirectory Create(string? temporaryRoot = null)
    {
        var root = temporaryRoot ?? System.IO.Path.GetTempPath();
        var fixedPath = System.IO.Path.Combine(root, "cirrus-build");
        if (MakeDirectory(fixedPath))
        {
            return new NoneWorkingDirectory(fixedPath);
        }
        while (true)
        {
            var path = System.IO.Path.Combine(root, "cirrus-build-" + Guid.NewGuid().ToString("N")[..10]);
            if (MakeDirectory(path))
            {
                return new NoneWorkingDirectory(path);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>mkdir(2): false when the path exists, so two tasks never share a directory.</summary>
    private static bool MakeDirectory(string path)
    {
        if (mkdir(path, OwnerOnly) == 0)
        {
            return true;
        }
        var errno = Marshal.GetLastPInvokeError();
        return errno == 17 // EEXIST
            ? false
            : throw new IOException($"can't create {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);
}
