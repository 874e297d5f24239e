using Worker.Core.Jobs;

namespace Worker.Core.Tests;

/// <summary>One table of exit codes: what `worker submit --follow` gives from a finish state is what `worker exec` gives from the outcome.</summary>
public sealed class OutcomePolicyTests
{
    public static TheoryData<JobOutcome> OutcomesTheStateTellsApart =>
    [
        new JobOutcome.Exited(0),
        new JobOutcome.Exited(1),
        new JobOutcome.Cancelled("by the test"),
        new JobOutcome.Errored("no script"),
        new JobOutcome.Refused("WORKER_ALLOWED_IMAGES"),
        new JobOutcome.LogTooLong(100),
        new JobOutcome.Infrastructure("no machine"),
        new JobOutcome.HostFailure("the engine went away", DuringScript: true),
    ];

    [Theory]
    [MemberData(nameof(OutcomesTheStateTellsApart))]
    public void The_exit_code_of_a_finish_state_is_the_one_exec_gives_for_the_outcome(JobOutcome outcome)
    {
        var verdict = OutcomePolicy.Decide(outcome, requeueCount: 3, maxRequeues: 3);

        Assert.Equal(verdict.ExitCode, OutcomePolicy.ExitCodeOf(verdict.State));
    }

    [Fact]
    public void An_errored_job_is_the_workers_error_and_a_finish_never_seen_too_never_the_usage_code()
    {
        Assert.Equal(OutcomePolicy.WorkerErrorExitCode, OutcomePolicy.ExitCodeOf(FinishState.Errored));
        Assert.Equal(OutcomePolicy.WorkerErrorExitCode, OutcomePolicy.ExitCodeOf(null));
    }
}
