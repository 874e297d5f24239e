using System.Formats.Tar;
using System.Text;

namespace Worker.Docker;

/// <summary>
/// The job's script as the tar archive Docker extracts into a container, and the commands that run
/// it. It goes to <c>/.worker-job/build.sh</c>, a directory of its own at the root: Docker's archive
/// upload writes beneath tmpfs mounts (they exist only inside the running container, so a tmpfs on
/// <c>/tmp</c> hid a script uploaded there) and through bind mounts onto the host, so no mount may cover it.
/// </summary>
public static class ScriptArchive
{
    public const string ExtractTo = "/";
    public const string Directory = "/.worker-job";
    public const string ScriptPath = Directory + "/build.sh";

    /// <summary>Runs the script by exec in a running container; stdout and stderr as one stream, in order.</summary>
    public static readonly IList<string> ExecCommand = ["bash", "-c", $"exec bash {ScriptPath} 2>&1"];

    /// <summary>
    /// The main process of a container made for the job: the script's output (both streams, in order)
    /// on stdout, then its exit code on stderr. A container that dies before that line was killed
    /// (from outside, or the engine went away), which is not the script's result.
    /// </summary>
    public static readonly IList<string> RunnerCommand = ["bash", "-c", $"bash {ScriptPath} 2>&1; echo \"$?\" >&2"];

    private const UnixFileMode Executable =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Whether a mount at <paramref name="destination"/> (a clean absolute path) would cover the script.</summary>
    public static bool IsCoveredBy(string destination) =>
        destination == Directory || destination.StartsWith(Directory + "/", StringComparison.Ordinal);

    public static MemoryStream Create(string script)
    {
        var archive = new MemoryStream();
        using (var tar = new TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true))
        {
            var now = DateTimeOffset.UtcNow;
            var directory = Directory.TrimStart('/');
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, directory + "/") { Mode = Executable, ModificationTime = now });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, ScriptPath.TrimStart('/'))
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
