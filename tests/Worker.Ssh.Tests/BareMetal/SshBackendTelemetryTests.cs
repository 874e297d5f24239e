using System.Diagnostics;
using Worker.Core.Telemetry;

namespace Worker.Ssh.Tests.BareMetal;

/// <summary>A job on a bare-metal host: its SSH connect and upload are spans under the stages they serve, naming the host.</summary>
[Trait("Category", "Integration")]
public sealed class SshBackendTelemetryTests : BareMetalTest
{
    private readonly SpanRecorder _spans = new();

    protected override async Task BeforeDisposeAsync()
    {
        await base.BeforeDisposeAsync();
        _spans.Dispose();
    }

    [Fact]
    public async Task A_jobs_connect_and_upload_are_spans_under_start_machine_and_upload_script()
    {
        var host = await StartHostAsync("host-a", HostUserA);
        var (queue, _) = StartPool(Backend([host]), 1);

        var job = queue.Enqueue(Job("script: [\"echo traced on bare metal\"]"));

        Assert.Equal("passed", await job.Outcome.WaitAsync(TimeSpan.FromMinutes(1)));
        // The job's span ends after its machine is removed, which comes after the result is reported.
        await Eventually.TrueAsync(() => _spans.Spans.Any(s => s.OperationName == JobTrace.SpanName && Equals(s.GetTagItem(TraceAttributes.JobId), job.Payload.JobId)),
            "the job's span ended");
        var span = _spans.Job(job.Payload.JobId);
        Assert.Equal("ssh", SpanRecorder.Tag(span, TraceAttributes.Backend));
        var stages = _spans.ChildrenOf(span);
        IEnumerable<Activity> Calls(string stage) => _spans.Below(stages.Single(s => s.OperationName == stage)).Where(s => s.Kind == ActivityKind.Client);
        var connect = Assert.Single(Calls("start machine"), s => s.OperationName == "ssh connect");
        Assert.Equal((host.Options.Ip, host.Options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            (SpanRecorder.Tag(connect, TraceAttributes.ServerAddress), SpanRecorder.Tag(connect, TraceAttributes.ServerPort)));
        Assert.Contains(Calls("upload script"), s => s.OperationName == "ssh upload");
        Assert.DoesNotContain(_spans.Below(span), s => s.Status == ActivityStatusCode.Error);
    }
}
