using Worker.Cirrus.Config;
using Worker.Cirrus.Tasks;

namespace Worker.Cirrus.Tests;

public class ResourceTests
{
    private static Dictionary<string, double> R(params (string Key, double Amount)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => p.Amount);

    [Fact]
    public void Without_configured_resources_one_task_runs_at_a_time()
    {
        var ledger = new TaskLedger(R());
        var first = ledger.Admit("1", R()).Task!;
        Assert.Equal("this worker runs one task at a time (no resources are configured) and one is running", ledger.Admit("2", R(("gpu", 1))).Refusal);

        first.Dispose();
        Assert.NotNull(ledger.Admit("2", R()).Task);
    }

    [Fact]
    public void With_resources_tasks_that_fit_run_together_and_one_that_does_not_is_refused()
    {
        var ledger = new TaskLedger(R(("tart-vms", 2), ("gpu", 1)));
        Assert.NotNull(ledger.Admit("a", R(("tart-vms", 1), ("gpu", 0.3))).Task);
        Assert.NotNull(ledger.Admit("b", R(("tart-vms", 1), ("gpu", 0.7))).Task);

        Assert.Equal("the task asks for tart-vms: 1, and 0 of 2 is free", ledger.Admit("c", R(("tart-vms", 1))).Refusal);
        Assert.Equal(R(("tart-vms", 2), ("gpu", 1)), ledger.InUse());
        Assert.Equal(["a", "b"], ledger.RunningTaskIds.Order());
    }

    [Fact]
    public void Fractions_that_add_up_to_the_total_fit()
    {
        var ledger = new TaskLedger(R(("gpu", 0.3)));
        Assert.NotNull(ledger.Admit("a", R(("gpu", 0.1))).Task);
        Assert.NotNull(ledger.Admit("b", R(("gpu", 0.2))).Task);
        Assert.False(ledger.Fits(R(("gpu", 0.01))));
    }

    [Fact]
    public void A_resource_the_worker_does_not_have_does_not_fit()
    {
        var ledger = new TaskLedger(R(("tart-vms", 2)));
        using var running = ledger.Admit("a", R(("tart-vms", 1))).Task!;
        Assert.Equal("the task asks for gpu: 1, and 0 of 0 is free", ledger.Admit("b", R(("gpu", 1))).Refusal);
    }

    [Fact]
    public void A_task_asking_for_no_resources_runs_alone()
    {
        var ledger = new TaskLedger(R(("tart-vms", 2)));
        var lone = ledger.Admit("lone", R()).Task!;
        Assert.Equal("a task that asks for no resources is running, and it runs alone", ledger.Admit("b", R(("tart-vms", 1))).Refusal);
        lone.Dispose();

        using var sized = ledger.Admit("sized", R(("tart-vms", 1))).Task!;
        Assert.Equal("a task that asks for no resources runs alone, and other tasks are running", ledger.Admit("lone", R()).Refusal);
    }

    [Fact]
    public void A_task_is_counted_until_disposed_and_only_once()
    {
        var ledger = new TaskLedger(R(("cpu", 4)));
        var task = ledger.Admit("t", R(("cpu", 3))).Task!;
        Assert.Equal("task t is already running here", ledger.Admit("t", R(("cpu", 1))).Refusal);

        task.Dispose();
        task.Dispose();
        Assert.Empty(ledger.InUse());
        Assert.Empty(ledger.RunningTaskIds);
        Assert.Null(ledger.Find("t"));
    }

    [Fact]
    public void A_stop_request_fires_the_tasks_token()
    {
        var ledger = new TaskLedger(R());
        using var task = ledger.Admit("t", R()).Task!;
        Assert.False(task.StopRequested.IsCancellationRequested);
        ledger.Find("t")!.RequestStop();
        Assert.True(task.StopRequested.IsCancellationRequested);
    }

    [Fact]
    public void A_modifier_is_held_by_one_task_and_given_back_when_it_ends()
    {
        var gpu = new ResourceModifierConfig(R(("gpu", 0.5)), ["--device", "path=/sys/bus/pci/devices/0000:01:00.0/"]);
        var gpu2 = new ResourceModifierConfig(R(("gpu", 0.5)), ["--device", "path=/sys/bus/pci/devices/0000:02:00.0/"]);
        var pool = new ResourceModifierPool([gpu, gpu2]);
        var ledger = new TaskLedger(R(("gpu", 2)));

        var first = ledger.Admit("a", R(("gpu", 0.25)), pool).Task!;
        var second = ledger.Admit("b", R(("gpu", 0.5)), pool).Task!;
        var third = ledger.Admit("c", R(("gpu", 0.5)), pool).Task!;
        Assert.Same(gpu, first.Modifier!.Modifier);
        Assert.Same(gpu2, second.Modifier!.Modifier);
        Assert.Null(third.Modifier);
        Assert.Equal(2, pool.HeldCount);

        first.Dispose();
        Assert.Equal(1, pool.HeldCount);
        using var fourth = ledger.Admit("d", R(("gpu", 0.5)), pool).Task!;
        Assert.Same(gpu, fourth.Modifier!.Modifier);
    }

    [Theory]
    [InlineData(0.5, true)]
    [InlineData(0.25, true)]
    [InlineData(0.75, false)]
    public void A_modifier_matches_a_request_asking_no_more_than_each_listed_amount(double asked, bool matches)
    {
        var modifier = new ResourceModifierConfig(R(("gpu", 0.5)), []);
        Assert.Equal(matches, ResourceModifierPool.Matches(modifier, R(("gpu", asked), ("cpu", 8))));
        Assert.False(ResourceModifierPool.Matches(modifier, R(("cpu", 8))));
    }
}
