using System.Diagnostics;

namespace Worker.Gce.Tests;

/// <summary>The auto-implode startup script, run with stand-ins for systemd-run and poweroff.</summary>
public sealed class StartupScriptTests
{
    [Fact]
    public async Task The_startup_script_schedules_a_poweroff_after_the_hard_limit_plus_the_margin()
    {
        var calls = await RunWithStandInsAsync(StartupScript.For(TimeSpan.FromMinutes(50), TimeSpan.FromMinutes(10), autoImplode: true));

        Assert.Equal("systemd-run --unit=worker-auto-implode --on-active=3600s /bin/systemctl poweroff", calls.Trim());
    }

    [Fact]
    public async Task Without_auto_implode_the_startup_script_schedules_nothing()
    {
        var calls = await RunWithStandInsAsync(StartupScript.For(TimeSpan.FromMinutes(50), TimeSpan.FromMinutes(10), autoImplode: false));

        Assert.Equal("", calls);
    }

    /// <summary>Runs the script with a PATH whose systemd-run, systemctl and poweroff only record how they were called.</summary>
    private static async Task<string> RunWithStandInsAsync(string script)
    {
        var dir = Directory.CreateTempSubdirectory("startup-script-").FullName;
        try
        {
            var record = Path.Combine(dir, "calls");
            foreach (var tool in new[] { "systemd-run", "systemctl", "poweroff" })
            {
                var path = Path.Combine(dir, tool);
                await File.WriteAllTextAsync(path, $"#!/bin/sh\necho \"{tool} $*\" >> '{record}'\n");
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var scriptPath = Path.Combine(dir, "startup-script");
            await File.WriteAllTextAsync(scriptPath, script);
            var start = new ProcessStartInfo("/bin/sh", [scriptPath]) { RedirectStandardError = true };
            start.Environment["PATH"] = dir + ":/usr/bin:/bin";
            using var process = Process.Start(start)!;
            await process.WaitForExitAsync();
            Assert.Equal(0, process.ExitCode);
            return File.Exists(record) ? await File.ReadAllTextAsync(record) : "";
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
