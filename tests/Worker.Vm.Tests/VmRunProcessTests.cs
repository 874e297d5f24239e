using System.Diagnostics;

namespace Worker.Vm.Tests;

/// <summary>A <c>run</c> process that says why it ended and exits at once: the reason is there as soon as it has exited.</summary>
public sealed class VmRunProcessTests
{
    [Fact]
    public async Task Its_last_words_are_kept_by_the_time_its_exit_is_seen()
    {
        // The exit and the last output line race each other on every run; many runs catch the loser.
        for (var i = 0; i < 40; i++)
        {
            var start = new ProcessStartInfo("/bin/sh", ["-c", "echo 'the VM crashed' >&2; exit 3"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var run = new VmRunProcess("vetu", Process.Start(start)!);

            Assert.Equal(3, await run.Exited.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal("vetu run exited with code 3: the VM crashed", run.Describe());
        }
    }
}
