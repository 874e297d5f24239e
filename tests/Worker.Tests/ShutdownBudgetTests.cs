using Worker.Core.Configuration;
using Worker.Core.Pipeline;

namespace Worker.Tests;

/// <summary>How a drain on SIGTERM is fitted into WORKER_STOP_WINDOW.</summary>
public sealed class ShutdownBudgetTests
{
    [Fact]
    public void Without_a_stop_window_a_drain_waits_the_whole_shutdown_timeout_and_teardown_steps_keep_their_own_timeouts()
    {
        var budget = ShutdownBudget.For(new WorkerOptions { Shutdown = TimeSpan.FromMinutes(10) });

        Assert.Equal(TimeSpan.FromMinutes(10), budget.DrainWait);
        Assert.Null(budget.TeardownLimit);
        Assert.Null(budget.Warning);
    }

    [Theory]
    [InlineData(20, 600, 120)]
    [InlineData(75, 600, 120)]
    [InlineData(75, 33, 120)]
    [InlineData(90, 3000, 10)]
    [InlineData(5, 600, 120)]
    public void Drain_teardown_and_exit_together_end_inside_the_window(int windowSeconds, int shutdownSeconds, int teardownSeconds)
    {
        var window = TimeSpan.FromSeconds(windowSeconds);
        var options = new WorkerOptions
        {
            StopWindow = window,
            Shutdown = TimeSpan.FromSeconds(shutdownSeconds),
            Teardown = TimeSpan.FromSeconds(teardownSeconds),
        };

        var budget = ShutdownBudget.For(options);

        Assert.True(budget.DrainWait + budget.TeardownLimit!.Value <= window * 0.9, $"{budget} does not leave a tenth of {window} to exit");
        Assert.True(budget.DrainWait <= options.Shutdown);
        Assert.True(budget.TeardownLimit <= options.Teardown);
        Assert.True(budget.DrainWait > TimeSpan.Zero && budget.TeardownLimit > TimeSpan.Zero);
    }

    [Fact]
    public void A_shutdown_timeout_longer_than_the_stop_window_is_warned_about_naming_both_settings()
    {
        var budget = ShutdownBudget.For(new WorkerOptions { StopWindow = TimeSpan.FromSeconds(20), Shutdown = TimeSpan.FromMinutes(10) });

        Assert.Equal(TimeSpan.FromSeconds(9), budget.DrainWait);
        Assert.Equal(TimeSpan.FromSeconds(9), budget.TeardownLimit);
        Assert.StartsWith("WORKER_SHUTDOWN_TIMEOUT (10m) does not fit WORKER_STOP_WINDOW (20s)", budget.Warning);
    }

    [Fact]
    public void A_shutdown_timeout_that_fits_the_window_is_kept_and_not_warned_about()
    {
        // What terraform/ sets: a shutdown timeout of 45 % of the window (docker stop --time).
        var budget = ShutdownBudget.For(new WorkerOptions { StopWindow = TimeSpan.FromSeconds(75), Shutdown = TimeSpan.FromSeconds(33) });

        Assert.Equal(TimeSpan.FromSeconds(33), budget.DrainWait);
        Assert.Null(budget.Warning);
    }

    [Fact]
    public void A_retiring_worker_waits_as_long_as_a_job_may_take_not_the_shutdown_timeout()
    {
        var options = new WorkerOptions
        {
            Shutdown = TimeSpan.FromSeconds(33),
            Startup = TimeSpan.FromMinutes(8),
            Upload = TimeSpan.FromMinutes(7),
            HardLimit = TimeSpan.FromMinutes(50),
            Teardown = TimeSpan.FromMinutes(2),
        };

        Assert.Equal(TimeSpan.FromMinutes(71), ShutdownBudget.RetirementWait(options));
    }
}
