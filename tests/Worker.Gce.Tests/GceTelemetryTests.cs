using System.Diagnostics;
using Worker.Core.Telemetry;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>Each Compute API attempt is a span under the step it serves, retries as siblings; a refused one is counted by kind.</summary>
[Trait("Category", "Integration")]
public sealed class GceTelemetryTests() : FakeGceTest(bootVms: true), IDisposable
{
    private const string Insert = "gce POST projects/{}/zones/{}/instances";

    private readonly SpanRecorder _spans = new();
    private readonly MetricRecorder _metrics = new();

    public void Dispose()
    {
        _spans.Dispose();
        _metrics.Dispose();
    }

    [Fact]
    public async Task A_rate_limited_insert_and_its_retry_are_sibling_spans_under_start_machine_and_the_429_is_counted()
    {
        Fake.Fail(FakeCall.InsertInstance, FakeFault.TooManyRequests);

        var (verdict, job) = await GceTestBed.RunJobAsync(Bed.Backend(), "script: [ 'echo ran' ]");
        Assert.Equal("passed", await job.Outcome);

        var span = _spans.Job(job.Payload.JobId);
        Assert.Equal("gce", SpanRecorder.Tag(span, TraceAttributes.Backend));
        var start = _spans.ChildrenOf(span).Single(s => s.OperationName == "start machine");
        var inserts = _spans.ChildrenOf(start).Where(s => s.OperationName == Insert).ToList();
        Assert.Equal(2, inserts.Count);
        Assert.Equal((ActivityStatusCode.Error, "http_429", 429),
            (inserts[0].Status, SpanRecorder.Tag(inserts[0], TraceAttributes.ErrorType), (int?)inserts[0].GetTagItem(TraceAttributes.HttpStatus)));
        Assert.Equal(ActivityStatusCode.Unset, inserts[1].Status);
        Assert.Contains(_spans.Below(span), s => s.OperationName == "ssh connect"); // the VM is reached over SSH, under the same job
        Assert.Contains(_spans.ChildrenOf(_spans.ChildrenOf(span).Single(s => s.OperationName == "teardown")),
            s => s.OperationName == "gce DELETE projects/{}/zones/{}/instances/{}");
        Assert.True(_metrics.Sum("worker.backend.errors", (TraceAttributes.Backend, "gce"), ("kind", "http_429")) >= 1);
    }

    [Theory]
    [InlineData("POST", "projects/p/zones/us-central1-a/instances?requestId=abc", "POST projects/{}/zones/{}/instances")]
    [InlineData("GET", "projects/p/zones/z/instances/worker-job-1", "GET projects/{}/zones/{}/instances/{}")]
    [InlineData("POST", "projects/p/zones/z/operations/op-1/wait", "POST projects/{}/zones/{}/operations/{}/wait")]
    [InlineData("GET", "projects/p/aggregated/instances?filter=x", "GET projects/{}/aggregated/instances")]
    [InlineData("GET", "projects/p/global/images", "GET projects/{}/global/images")]
    public void A_span_name_has_the_path_with_its_names_taken_out(string method, string path, string operation) =>
        Assert.Equal(operation, ComputeApiTracing.Operation(new HttpMethod(method), path));
}
