namespace Worker.Ssh.BareMetal;

/// <summary>
/// A job's directory on a host: made fresh under the build root before the job, and after it the
/// processes of the job's sessions are killed and the directory is removed. Each command runs
/// under <c>sh</c>, whatever the login shell is.
/// </summary>
internal static class BuildDirectory
{
    public const string ScriptName = "build.sh";

    /// <summary>The job's script in <paramref name="directory"/>, run there.</summary>
    public static RemoteScript Script(string directory) => new(ScriptName) { WorkingDirectory = directory };

    /// <summary>Makes <c>ROOT/NAME</c> (the name must be new) and prints its absolute path.</summary>
    public static string CreateCommand(string root, string name)
    {
        var dir = root.EndsWith('/') ? root + name : root + "/" + name;
        return "exec sh -c " + JobSession.Quote($"mkdir -p -- {JobSession.Quote(root)} && mkdir -m 700 -- {JobSession.Quote(dir)} && cd {JobSession.Quote(dir)} && pwd -P");
    }

    /// <summary>Removes the directory, even parts the job made unwritable, and fails when anything is left.</summary>
    public static string RemoveCommand(string directory) =>
        "exec sh -c " + JobSession.Quote($"d={JobSession.Quote(directory)}; chmod -R u+rwx -- \"$d\" 2>/dev/null; rm -rf -- \"$d\" && test ! -e \"$d\"");

    /// <summary>Makes the build root if need be and checks that a job directory can be made in it.</summary>
    public static string CheckRootCommand(string root) =>
        "exec sh -c " + JobSession.Quote($"mkdir -p -- {JobSession.Quote(root)} && test -w {JobSession.Quote(root)} && test -x {JobSession.Quote(root)}");

    /// <summary>
    /// Kills what the job left running in <paramref name="directory"/>'s sessions, then removes it.
    /// Throws when the host can't be reached or the directory stays.
    /// </summary>
    public static async Task RemoveAsync(SshMachine machine, string directory, CancellationToken ct)
    {
        await machine.RunCommandAsync(JobSession.KillCommand(Script(directory)), ct);
        var removed = await machine.RunCommandAsync(RemoveCommand(directory), ct);
        if (removed.ExitCode != 0)
        {
            throw new IOException($"could not remove {directory} on {machine.Endpoint} (exit {removed.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}): {removed.Error.Trim()}");
        }
    }
}
