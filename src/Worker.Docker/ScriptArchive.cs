using System.Formats.Tar;
using System.Text;

namespace Worker.Docker;

/// <summary>The job's script as the tar archive Docker extracts into a container: <c>/tmp/worker/build.sh</c>.</summary>
public static class ScriptArchive
{
    public const string ExtractTo = "/tmp";
    public const string ScriptPath = "/tmp/worker/build.sh";

    private const UnixFileMode Executable =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    public static MemoryStream Create(string script)
    {
        var archive = new MemoryStream();
        using (var tar = new TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true))
        {
            var now = DateTimeOffset.UtcNow;
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "worker/") { Mode = Executable, ModificationTime = now });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "worker/build.sh")
            {
                Mode = Executable,
                ModificationTime = now,
                DataStream = new MemoryStream(new UTF8Encoding(false).GetBytes(script)),
            });
        }
        archive.Position = 0;
        return archive;
    }
}
