namespace Worker.Vm.Tests;

/// <summary>Whole jobs on a fresh VM of the stand-in tart and vetu: the lifecycle in order, and no VM left after.</summary>
[Trait("Category", "Integration")]
public sealed class VmJobTests
{
    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_job_runs_on_a_fresh_VM_that_is_deleted_afterwards(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(), "script: [ 'echo \"hello from $(whoami) in $HOME\"', 'test -t 1 && echo on-a-terminal' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains($"hello from {VmTestBed.GuestUser}", job.Log);
        Assert.Contains("on-a-terminal", job.Log);
        Assert.Empty(bed.Fake.ClonedVms);
        Assert.Empty(bed.Fake.RunningVms);
        Assert.Empty(Directory.GetFiles(bed.RecordDir));
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task The_VM_is_cloned_set_run_reached_stopped_and_deleted_in_that_order(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("_CPU", "2"), ("_MEMORY", "4g"), ("_DISK_SIZE", "60g")), "script: [ 'true' ]");

        Assert.Equal("passed", await job.Outcome);
        var calls = bed.Fake.Calls.Select(c => c.Command).ToList();
        var vm = bed.Fake.CallsOf("clone").Single().Arguments[2];
        Assert.StartsWith("worker-job-", vm);
        var expected = new List<string> { $"clone {VmTestBed.DefaultImage} {vm}" };
        if (tool == "tart")
        {
            expected.Add($"set {vm} --random-mac");
        }
        expected.AddRange([$"set {vm} --cpu 2", $"set {vm} --memory 4096", $"set {vm} --disk-size 60"]);
        expected.Add(tool == "tart"
            ? $"run --no-graphics --no-clipboard --no-audio --root-disk-opts sync=none {vm}"
            : $"run {vm}");
        if (tool == "tart")
        {
            expected.Add($"get --format json {vm}");
        }
        expected.AddRange([$"stop --timeout 5 {vm}", $"delete {vm}"]);
        var ofVm = calls.Where(c => c.Contains(vm, StringComparison.Ordinal)).ToList();
        // ip runs beside run (which blocks), so it may reach the CLI a moment before run does.
        Assert.Equal(expected, ofVm.Where(c => !c.StartsWith("ip ", StringComparison.Ordinal)));
        var ip = ofVm.IndexOf($"ip --wait 30 {vm}");
        Assert.InRange(ip, ofVm.FindLastIndex(c => c.StartsWith("set ", StringComparison.Ordinal)) + 1, ofVm.IndexOf($"stop --timeout 5 {vm}") - 1);
        if (tool == "tart")
        {
            Assert.True(ip < ofVm.IndexOf($"get --format json {vm}"), "the guest's OS is asked once it has an address");
        }
        Assert.Empty(bed.Fake.ClonedVms);
    }
}
