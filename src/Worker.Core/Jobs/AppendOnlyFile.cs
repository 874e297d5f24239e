using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Worker.Core.Jobs;

/// <summary>
/// A file opened for appending only (<c>O_APPEND</c>), so that each write lands at the file's end
/// as one step even when another process appends to it too. .NET opens <see cref="FileMode.Append"/>
/// without <c>O_APPEND</c> and keeps its own position, so two workers of one host seeking to the end
/// and then writing overwrote each other's lines (2,858 of 8,000 in a test). Each
/// <see cref="Append"/> is one unbuffered <c>write(2)</c>. Where the flag's value is not known
/// (neither Linux nor macOS), it falls back to a seek to the end before each write.
/// </summary>
internal sealed partial class AppendOnlyFile : IDisposable
{
    private readonly SafeFileHandle? _handle;
    private readonly FileStream? _fallback;

    private AppendOnlyFile(SafeFileHandle handle) => _handle = handle;

    private AppendOnlyFile(FileStream fallback) => _fallback = fallback;

    /// <summary>Opens or creates the file; its directory must exist.</summary>
    public static AppendOnlyFile Open(string path)
    {
        if (AppendFlags() is not { } flags)
        {
            return new AppendOnlyFile(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0));
        }
        // Created by .NET, so open(2) is called without O_CREAT and its variadic mode, which arm64
        // macOS passes on the stack where a P/Invoke's fixed argument does not go.
        using (new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
        }
        var fd = OpenFile(path, flags);
        if (fd < 0)
        {
            throw Failure($"could not open {path}");
        }
        return new AppendOnlyFile(new SafeFileHandle(fd, ownsHandle: true));
    }

    /// <summary>Appends the bytes in one write; a write cut short (a full disk) throws, having written part of them.</summary>
    public unsafe void Append(ReadOnlySpan<byte> bytes)
    {
        if (_fallback is { } stream)
        {
            stream.Seek(0, SeekOrigin.End);
            stream.Write(bytes);
            return;
        }
        fixed (byte* start = bytes)
        {
            nint written;
            do
            {
                written = WriteFile(_handle!, start, bytes.Length);
            }
            while (written < 0 && Marshal.GetLastPInvokeError() == EINTR);
            if (written < 0)
            {
                throw Failure("could not write");
            }
            if (written < bytes.Length)
            {
                throw new IOException($"wrote {written} of {bytes.Length} bytes (is the disk full?)");
            }
        }
    }

    /// <summary>
    /// Whether the file held open here was unlinked: removed, or replaced by a file of the same name
    /// (another worker of this host rewriting the record), so that what is appended here is lost
    /// with it. Known on Linux, where the kernel names an unlinked open file "... (deleted)";
    /// elsewhere, false.
    /// </summary>
    public bool Unlinked() =>
        OperatingSystem.IsLinux() && _handle is { IsInvalid: false } handle &&
        new FileInfo($"/proc/self/fd/{handle.DangerousGetHandle()}").LinkTarget?.EndsWith(" (deleted)", StringComparison.Ordinal) == true;

    public void Dispose()
    {
        _fallback?.Dispose();
        _handle?.Dispose();
    }

    private const int EINTR = 4;

    /// <summary>O_WRONLY | O_APPEND | O_CLOEXEC, as this system numbers them.</summary>
    private static int? AppendFlags() =>
        OperatingSystem.IsLinux() ? 0x1 | 0x400 | 0x80000
        : OperatingSystem.IsMacOS() ? 0x1 | 0x8 | 0x1000000
        : null;

    private static IOException Failure(string what) =>
        new($"{what}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenFile(string path, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteFile(SafeFileHandle fd, byte* buffer, nint count);
}
