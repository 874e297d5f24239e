using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Jobs;
using Worker.Core.Scripts;
using Worker.TestSupport;

namespace Worker.Core.Tests;

/// <summary>travis-worker's payload filter: a program that rewrites the payload a job's script is made from.</summary>
public sealed class PayloadFilterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("worker-filter-").FullName;
    private readonly ListLoggerProvider _log = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JobPayload Job => JobFile.Parse("id: 41\nscript: [\"echo original\"]", "test");

    [Fact]
    public async Task The_script_is_made_from_the_payload_the_filter_writes()
    {
        var generator = Generator(Filter("sed 's/echo original/echo filtered/'"));

        var script = await generator.GenerateAsync(Job, CancellationToken.None);

        Assert.Contains("echo filtered", script);
        Assert.DoesNotContain("echo original", script);
        Assert.DoesNotContain(_log.Lines, l => l.Contains("failed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("cat >/dev/null; echo no such setting >&2; exit 3", "it exited with code 3: no such setting")]
    [InlineData("cat >/dev/null; echo not json", "its output is not a job payload")]
    [InlineData("exit 0", "its output is not a job payload")]
    public async Task A_filter_that_fails_leaves_the_job_its_own_payload_and_says_why(string body, string reason)
    {
        var script = await Generator(Filter(body)).GenerateAsync(Job, CancellationToken.None);

        Assert.Contains("echo original", script);
        Assert.Contains(_log.Lines, l => l.StartsWith("Job 41: the payload filter", StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_filter_that_is_not_there_leaves_the_job_its_own_payload()
    {
        var script = await Generator(Path.Combine(_dir, "missing")).GenerateAsync(Job, CancellationToken.None);

        Assert.Contains("echo original", script);
        Assert.Contains(_log.Lines, l => l.Contains("it could not be run", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_filter_that_hangs_is_stopped_at_its_limit_with_what_it_started()
    {
        var pidFile = Path.Combine(_dir, "child.pid");
        var filter = new PayloadFilter(Filter($"sleep 300 & echo $! > {pidFile}; wait"), _log.CreateLogger("filter")) { TimeLimit = TimeSpan.FromSeconds(1) };

        var payload = await filter.ApplyAsync(Job, CancellationToken.None);

        Assert.Equal(41, payload.JobId);
        Assert.Contains(_log.Lines, l => l.Contains("it ran past 1s and was stopped", StringComparison.Ordinal));
        var child = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        await Eventually.TrueAsync(() => !Directory.Exists($"/proc/{child}"), "the filter's child was left running");
    }

    private FilteredScriptGenerator Generator(string executable) =>
        new(new BuiltinScriptGenerator(), new PayloadFilter(executable, _log.CreateLogger("filter")));

    /// <summary>An executable shell script with <paramref name="body"/>.</summary>
    private string Filter(string body)
    {
        var path = Path.Combine(_dir, $"filter-{Guid.NewGuid():N}");
        File.WriteAllText(path, $"#!/bin/sh\n{body}\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
