using System.Text;
using Worker.Cirrus.Agent;

namespace Worker.Cirrus.Tests.Fakes;

/// <summary>
/// A stand-in for the <c>cirrus</c> binary, placed where the agent cache keeps it. It records its
/// arguments, environment and working directory, then exits with the code the test chose, or, when
/// told to run until killed, waits for a signal and records which one ended it; when told to wait
/// for its release, exits once the test calls <see cref="Release"/>. Its record directory is open to
/// every user (a VM stand-in's guest is another account of this host).
/// </summary>
public sealed class FakeAgent
{
    private FakeAgent(string path, string recordDirectory)
    {
        Path = path;
        RecordDirectory = recordDirectory;
    }

    /// <summary>Where the fake was installed (the cache path of its version, OS and architecture).</summary>
    public string Path { get; }

    public string RecordDirectory { get; }

    public static FakeAgent InstallInCache(AgentBinaries cache, string version, int exitCode = 0, bool runUntilKilled = false,
        bool waitForRelease = false, string? os = null, string? arch = null) =>
        Install(cache.PathFor(version, os ?? HostPlatform.Os, arch ?? HostPlatform.Arch), exitCode, runUntilKilled, waitForRelease);

    public static FakeAgent Install(string path, int exitCode = 0, bool runUntilKilled = false, bool waitForRelease = false)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var record = Directory.CreateTempSubdirectory("fake-agent-record-").FullName;
        File.SetUnixFileMode(record, (UnixFileMode)0x1FF);
        File.WriteAllText(path, Script(record, exitCode, runUntilKilled, waitForRelease));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return new FakeAgent(path, record);
    }

    public bool Started => File.Exists(System.IO.Path.Combine(RecordDirectory, "done-recording"));

    /// <summary>Lets an agent told to wait for its release exit (with its exit code).</summary>
    public void Release() => File.WriteAllText(System.IO.Path.Combine(RecordDirectory, "release"), "");

    /// <summary>Arguments after the program name, exactly as received (empty ones included).</summary>
    public IReadOnlyList<string> Arguments
    {
        get
        {
            var raw = File.ReadAllText(System.IO.Path.Combine(RecordDirectory, "args"));
            return raw.Length == 0 ? [] : raw[..^1].Split('\0');
        }
    }

    public IReadOnlyDictionary<string, string> Environment =>
        File.ReadAllText(System.IO.Path.Combine(RecordDirectory, "env")).Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "", StringComparer.Ordinal);

    public string WorkingDirectory => File.ReadAllText(System.IO.Path.Combine(RecordDirectory, "cwd")).TrimEnd('\n');

    /// <summary>The signal that ended a fake told to run until killed (INT or TERM), or null.</summary>
    public string? EndedBy => File.Exists(System.IO.Path.Combine(RecordDirectory, "signal"))
        ? File.ReadAllText(System.IO.Path.Combine(RecordDirectory, "signal")).Trim()
        : null;

    private static string Script(string record, int exitCode, bool runUntilKilled, bool waitForRelease)
    {
        var script = new StringBuilder("#!/bin/bash\n");
        script.Append("record='").Append(record).Append("'\n");
        script.Append("printf '%s\\0' \"$@\" > \"$record/args\"\n");
        script.Append("env -0 > \"$record/env\"\n");
        script.Append("pwd > \"$record/cwd\"\n");
        script.Append("touch \"$record/done-recording\"\n");
        if (runUntilKilled)
        {
            script.Append("trap 'echo INT > \"$record/signal\"; exit 130' INT\n");
            script.Append("trap 'echo TERM > \"$record/signal\"; exit 143' TERM\n");
            script.Append("while :; do sleep 0.05; done\n");
        }
        if (waitForRelease)
        {
            script.Append("while [ ! -e \"$record/release\" ]; do sleep 0.05; done\n");
        }
        script.Append("exit ").Append(exitCode).Append('\n');
        return script.ToString();
    }
}
