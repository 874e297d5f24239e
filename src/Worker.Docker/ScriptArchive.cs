using System.Formats.Tar;
using System.Text;

namespace Worker.Docker;

/// <summary>
/// The job's script on its way into a container, and the commands that run it. It goes to
/// <c>/.worker-job/build.sh</c>, a directory of its own at the root: into a running container (a
/// standby, or one started with <c>WORKER_DOCKER_CMD</c>) by Docker's archive upload, which writes beneath tmpfs mounts (they exist only inside the running container,
/// so a tmpfs on <c>/tmp</c> hid a script uploaded there) and through bind mounts onto the host, so
/// no mount may cover it; into a job's own container on its main process's stdin (see <see cref="RunnerCommand"/>).
/// </summary>
public static class ScriptArchive
{
    public const string ExtractTo = "/";
    public const string Directory = "/.worker-job";
    public const string ScriptPath = Directory + "/build.sh";

    /// <summary>
    /// Runs the script by exec in a running container; stdout and stderr as one stream, in order.
    /// Beside it a watcher waits on the exec's stdin, which the worker holds open until the script
    /// ends, as the runner's watcher does (see <see cref="RunnerCommand"/>): should the worker go away,
    /// it kills every process of the job (all but the container's main process; an init's services
    /// too), so a job whose worker is gone does not run on beside its redelivered copy.
    /// </summary>
    public static readonly IList<string> ExecCommand = Exec(RunScript);

    /// <summary><see cref="ExecCommand"/> with the script on a terminal, as <see cref="TerminalRunnerCommand"/> makes one.</summary>
    public static readonly IList<string> TerminalExecCommand = Exec(RunScriptOnTerminal);

    /// <summary>What the main process of a job's container writes on stdout, as a line, once it has saved the script.</summary>
    public const string ReceivedMarker = "worker: script received";

    /// <summary>
    /// The main process of a container made for the job. The script comes on its stdin (no archive
    /// upload, which costs a request and an extraction): first its length in bytes on a line of its
    /// own (bash reads a pipe a byte at a time, so it takes no more than that line), then the script,
    /// which <c>head</c> saves to <see cref="ScriptPath"/> (in the container's <see cref="RunnerTmpfs"/>,
    /// which it needs). A script cut short is not run: <c>head</c> stopped at the end of stdin, which
    /// <c>read -t 0</c> then finds (nothing follows a whole script, and the worker holds stdin open),
    /// without a process to count the bytes saved (wc costs a fork and an exec on every job's path).
    /// It then says so on stdout, ahead of the script's output, and runs the script with stdin from
    /// /dev/null: its output (both streams, in order) on stdout, then its exit code on stderr. A
    /// container that dies before that line was killed (from outside, or the engine went away),
    /// which is not the script's result.
    /// Meanwhile a watcher waits on stdin, which the worker holds open until the container ends:
    /// at its end the worker is gone (killed, or its connection to the engine lost), and the
    /// watcher kills every process of the job (<c>kill -KILL -1</c> spares the runner, the
    /// container's first process, which ends right after). So a job does not run on unwatched
    /// beside its redelivered copy, as a travis-worker job's SSH session ends with its worker.
    /// (The watcher's stdin is named: bash gives a background command /dev/null otherwise.)
    /// </summary>
    public static readonly IList<string> RunnerCommand = Runner(RunScript);

    /// <summary>
    /// <see cref="RunnerCommand"/> with the script on a terminal: util-linux <c>script</c> makes one
    /// (its <c>-e</c> passes the script's exit code on, <c>-f</c> flushes each write, so the output
    /// streams live), as travis-worker's SSH session or exec had one. Only the real program will do
    /// (busybox's, a link, lacks <c>-e</c>); an image without it runs the script as
    /// <see cref="RunnerCommand"/> does. The terminal joins stdout and stderr and ends lines in CR LF.
    /// </summary>
    public static readonly IList<string> TerminalRunnerCommand = Runner(RunScriptOnTerminal);

    private const string RunScript = $"bash {ScriptPath} 2>&1";

    private const string RunScriptOnTerminal =
        $"if [ -x /usr/bin/script ] && [ ! -L /usr/bin/script ]; then TERM=xterm /usr/bin/script -qefc 'bash {ScriptPath}' /dev/null; else {RunScript}; fi";

    /// <summary>Kills every process it may (all but the container's first) once stdin ends: the worker that held it is gone.</summary>
    private const string Watcher = "{ while IFS= read -r _; do :; done; kill -KILL -1; } <&0";

    /// <summary>
    /// USER and LOGNAME, as a login (travis-worker's SSH session) set them, when the engine set none
    /// (the image's own user, or one given by id): the name <c>/etc/passwd</c> gives the user, read
    /// with bash's builtins, so no process is started for it. A user it does not name gets none.
    /// </summary>
    private const string LoginNames =
        "[ -n \"$USER\" ] || { while IFS=: read -r n _ u _; do [ \"$u\" = \"$EUID\" ] && export USER=\"$n\" && break; done < /etc/passwd; } 2>/dev/null; " +
        "[ -z \"$USER\" ] || export LOGNAME=\"${LOGNAME:-$USER}\"; ";

    private static IList<string> Runner(string runScript) => ["bash", "-c",
        $"IFS= read -r size && head -c \"$size\" > {ScriptPath} && ! read -t 0 || " +
        $"{{ echo \"the script did not arrive whole ($(wc -c 2>/dev/null < {ScriptPath} || echo 0) of ${{size:-?}} bytes)\" >&2; exit 97; }}; " +
        $"echo '{ReceivedMarker}'; {Watcher} & exec 0< /dev/null; {LoginNames}{runScript}; echo \"$?\" >&2"];

    private static IList<string> Exec(string runScript) => ["bash", "-c", $"{Watcher} >/dev/null 2>&1 & exec 0< /dev/null; {LoginNames}{runScript}"];

    /// <summary>
    /// The tmpfs a job's own container gets at <see cref="Directory"/>, for <see cref="RunnerCommand"/>
    /// (path and mount options, as the engine's <c>HostConfig.Tmpfs</c> takes them). The runner
    /// runs as the image's user, which can't make a folder in <c>/</c> unless it is root; world
    /// writable with the sticky bit, as <c>/tmp</c> is, so every image's user can save the script
    /// there. Not for a container whose script runs by exec: an archive uploaded into a running
    /// container is written beneath its tmpfs mounts, where the script would not be found.
    /// </summary>
    public static readonly KeyValuePair<string, string> RunnerTmpfs = new(Directory, "rw,exec,nosuid,nodev,mode=1777,size=64m");

    /// <summary>The bytes a job container's main process expects on stdin (see <see cref="RunnerCommand"/>).</summary>
    public static byte[] ForStdin(string script)
    {
        var body = new UTF8Encoding(false).GetBytes(script);
        var header = Encoding.ASCII.GetBytes(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
        return [.. header, .. body];
    }

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
