using System.Diagnostics;
using Grpc.Core;
using Worker.Cirrus.Api;
using Worker.Cirrus.Config;
using Worker.Cirrus.Session;
using Worker.Cirrus.Tests.Fakes;
using Worker.Core.Telemetry;
using Worker.TestSupport;

namespace Worker.Cirrus.Tests;

/// <summary>Each attempt of a Cirrus RPC is a client span under the caller's span; a failed one marks its span and is counted by its gRPC status.</summary>
public sealed class CirrusTelemetryTests : IDisposable
{
    private static readonly RetryPolicy QuickRetries = new(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(30));

    private const string RegistrationToken = "cirrus-registration-token-7f3a";

    private readonly SpanRecorder _spans = new();
    private readonly MetricRecorder _metrics = new();

    public void Dispose()
    {
        _spans.Dispose();
        _metrics.Dispose();
    }

    [Fact]
    public async Task A_retried_RPC_is_a_span_per_attempt_the_failed_ones_marked_and_counted_by_status()
    {
        await using var server = await FakeCirrusServer.StartAsync();
        server.Service.Fail("Register", 2);
        server.Service.Fail("Poll", 1, StatusCode.PermissionDenied);
        using var client = new CirrusUpstreamClient("w", new CirrusUpstream(RegistrationToken, server.Endpoint), QuickRetries);
        var unavailableBefore = _metrics.Sum("worker.backend.errors", (TraceAttributes.Backend, "cirrus"), ("kind", "grpc_unavailable"));

        Activity parent;
        using (parent = WorkerTelemetry.Source.StartActivity("test caller")!)
        {
            await client.RegisterAsync(new WorkerInfo(), CancellationToken.None);
            await Assert.ThrowsAsync<RpcException>(() => client.PollAsync(() => new PollRequest(), CancellationToken.None));
            await client.PollAsync(() => new PollRequest(), CancellationToken.None);
        }

        var calls = _spans.ChildrenOf(parent);
        Assert.Equal(["cirrus Register", "cirrus Register", "cirrus Register", "cirrus Poll", "cirrus Poll"], calls.Select(s => s.OperationName));
        Assert.All(calls, s => Assert.Equal((ActivityKind.Client, "cirrus"), (s.Kind, SpanRecorder.Tag(s, TraceAttributes.Backend))));
        Assert.Equal(
            [(ActivityStatusCode.Error, "grpc_unavailable"), (ActivityStatusCode.Error, "grpc_unavailable"), (ActivityStatusCode.Unset, ""),
             (ActivityStatusCode.Error, "grpc_permission_denied"), (ActivityStatusCode.Unset, "")],
            calls.Select(s => (s.Status, SpanRecorder.Tag(s, TraceAttributes.ErrorType))));
        Assert.True(calls[0].StartTimeUtc + calls[0].Duration <= calls[1].StartTimeUtc, "an attempt's span ends before the wait for the next");
        Assert.True(_metrics.Sum("worker.backend.errors", (TraceAttributes.Backend, "cirrus"), ("kind", "grpc_unavailable")) >= unavailableBefore + 2);
        Assert.True(_metrics.Sum("worker.backend.errors", (TraceAttributes.Backend, "cirrus"), ("kind", "grpc_permission_denied")) >= 1);
        // The tokens in the RPCs' metadata are in no span.
        Assert.DoesNotContain(calls, s => s.TagObjects.Any(t => Convert.ToString(t.Value, System.Globalization.CultureInfo.InvariantCulture) is RegistrationToken or "session-1"));
    }
}
