using System.Diagnostics;
using Worker.Core.Telemetry;

namespace Worker.Ssh.Tests;

/// <summary>SSH connects and uploads are spans of the step they serve; a refused host key is counted by kind.</summary>
[Trait("Category", "Integration")]
public sealed class SshTelemetryTests : SshdTest
{
    private const string SomeOtherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    private readonly SpanRecorder _spans = new();
    private readonly MetricRecorder _metrics = new();

    protected override Task BeforeDisposeAsync()
    {
        _spans.Dispose();
        _metrics.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Connect_and_upload_are_client_spans_naming_the_host_under_the_callers_span()
    {
        var sshd = await StartSshdAsync();
        await using var machine = Connect(sshd);
        Activity step;
        using (step = WorkerTelemetry.Source.StartActivity("upload script")!)
        {
            await machine.UploadAsync("build.sh", "echo hi"u8.ToArray(), null, CancellationToken.None);
        }

        var calls = _spans.Below(step).OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(["ssh connect", "ssh upload"], calls.Select(s => s.OperationName).Distinct().Order());
        Assert.All(calls, c =>
        {
            Assert.Equal(ActivityKind.Client, c.Kind);
            Assert.Equal((sshd.Options.Ip, sshd.Options.Port), (SpanRecorder.Tag(c, TraceAttributes.ServerAddress), (int?)c.GetTagItem(TraceAttributes.ServerPort)));
            Assert.Equal(ActivityStatusCode.Unset, c.Status);
        });
    }

    [Fact]
    public async Task A_refused_host_key_marks_the_connect_span_and_is_counted()
    {
        var sshd = await StartSshdAsync();
        var knownHosts = KnownHosts.Parse($"{sshd.KnownHostsName} {SomeOtherKey}\n", "known_hosts");
        await using var machine = Connect(sshd, hostKeys: knownHosts);
        Activity step;
        using (step = WorkerTelemetry.Source.StartActivity("start machine")!)
        {
            await Assert.ThrowsAsync<HostKeyRejectedException>(() => machine.ConnectAsync(CancellationToken.None));
        }

        var connect = Assert.Single(_spans.Below(step));
        Assert.Equal(("ssh connect", ActivityStatusCode.Error, "host_key_rejected"),
            (connect.OperationName, connect.Status, SpanRecorder.Tag(connect, TraceAttributes.ErrorType)));
        Assert.True(_metrics.Sum("worker.backend.errors", (TraceAttributes.Backend, "ssh"), ("kind", "host_key_rejected")) >= 1);
    }
}
