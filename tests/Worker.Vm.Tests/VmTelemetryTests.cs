using System.Diagnostics;
using Worker.Core.Telemetry;

namespace Worker.Vm.Tests;

/// <summary>Each tart/vetu CLI call a job makes is a span under the step it serves; a call that exits non-zero marks its span and is counted by kind.</summary>
[Trait("Category", "Integration")]
public sealed class VmTelemetryTests : IDisposable
{
    private readonly SpanRecorder _spans = new();
    private readonly MetricRecorder _metrics = new();

    public void Dispose()
    {
        _spans.Dispose();
        _metrics.Dispose();
    }

    private IReadOnlyList<Activity> CallsUnder(Activity job, string stage) =>
        [.. _spans.ChildrenOf(_spans.ChildrenOf(job).Single(s => s.OperationName == stage)).Where(s => s.Kind == ActivityKind.Client)];

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_jobs_CLI_calls_are_spans_under_the_steps_they_serve(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(), "script: [ 'true' ]");

        Assert.Equal("passed", await job.Outcome);
        var span = _spans.Job(job.Payload.JobId);
        var start = CallsUnder(span, "start machine");
        Assert.Equal([$"{tool} clone", $"{tool} run"], start.Select(s => s.OperationName).Where(n => n == $"{tool} clone" || n == $"{tool} run"));
        if (tool == "tart")
        {
            Assert.Contains(start, s => s.OperationName == "tart set"); // --random-mac, between the two
        }
        Assert.Contains(start, s => s.OperationName == $"{tool} ip");
        Assert.Contains(start, s => s.OperationName == "ssh connect"); // the guest is reached over SSH, under the same step
        Assert.Equal([$"{tool} stop", $"{tool} delete"],
            CallsUnder(span, "teardown").Select(s => s.OperationName).Where(n => n.StartsWith(tool, StringComparison.Ordinal)));
        var clone = start.First(s => s.OperationName == $"{tool} clone");
        Assert.Equal((tool, "clone", "0"),
            (SpanRecorder.Tag(clone, TraceAttributes.Backend), SpanRecorder.Tag(clone, TraceAttributes.Operation), SpanRecorder.Tag(clone, TraceAttributes.ProcessExitCode)));
        Assert.NotNull(start.First(s => s.OperationName == $"{tool} run").GetTagItem(TraceAttributes.ProcessId));
        Assert.DoesNotContain(_spans.Below(span), s => s.Status == ActivityStatusCode.Error);
        // The VM's name is in no span's name: names stay few, whatever the jobs.
        var vm = bed.Fake.CallsOf("clone").Single().Arguments[2];
        Assert.DoesNotContain(_spans.Below(span), s => s.OperationName.Contains(vm, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_clone_that_exits_non_zero_marks_its_span_and_is_counted_by_tool_and_exit_code(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.CloneFailures = 1;
        var before = _metrics.Sum("worker.backend.errors", (TraceAttributes.Backend, tool), ("kind", "exit_1"));

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(), "script: [ 'echo never' ]");

        Assert.Equal("requeued", await job.Outcome);
        var clone = Assert.Single(CallsUnder(_spans.Job(job.Payload.JobId), "start machine"), s => s.OperationName == $"{tool} clone");
        Assert.Equal((ActivityStatusCode.Error, "exit_1", "1"),
            (clone.Status, SpanRecorder.Tag(clone, TraceAttributes.ErrorType), SpanRecorder.Tag(clone, TraceAttributes.ProcessExitCode)));
        Assert.Contains("not enough free disk space", clone.StatusDescription);
        Assert.True(_metrics.Sum("worker.backend.errors", (TraceAttributes.Backend, tool), ("kind", "exit_1")) >= before + 1);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task Jobs_that_take_a_standby_or_need_a_fresh_VM_are_counted_as_hits_and_misses(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_STANDBY", "1"));
        await backend.Standby!.FillAsync(CancellationToken.None);
        double Claims(string result) => _metrics.Sum("worker.standby.claims", (TraceAttributes.Backend, tool), (TraceAttributes.Result, result));
        var before = (Hits: Claims("hit"), Misses: Claims("miss"));

        var (_, onStandby) = await VmTestBed.RunJobAsync(backend, "script: [ 'true' ]");
        var (_, otherShape) = await VmTestBed.RunJobAsync(backend, "cpus: 3\nscript: [ 'true' ]");

        Assert.Equal(("passed", "passed"), (await onStandby.Outcome, await otherShape.Outcome));
        // Other tests of the same tool may count too: at least ours.
        Assert.True(Claims("hit") >= before.Hits + 1, "the first job took the standby");
        Assert.True(Claims("miss") >= before.Misses + 1, "a job of another shape needed a fresh VM");
    }
}
