using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Worker.Composition;
using Worker.Core.Configuration;
using Worker.TestSupport;

namespace Worker.Tests;

/// <summary>WORKER_LOG_FORMAT=json writes what Cloud Logging reads: severity, message, time and the trace fields.</summary>
public sealed class CloudLoggingJsonTests
{
    private static readonly ActivitySource Source = new("Worker.Tests.CloudLogging");

    private static List<JsonObject> Lines(string stderr) =>
        [.. stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!.AsObject())];

    private static string Capture(Action<ILoggerFactory> log, string? project = "my-ci-project")
    {
        var previous = Console.Error;
        var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            using (var factory = Logging.CreateLoggerFactory(new WorkerOptions { Format = "json", Host = "host-1" }, project))
            {
                log(factory);
            }
            return captured.ToString();
        }
        finally
        {
            Console.SetError(previous);
        }
    }

    [Fact]
    public void Each_line_carries_severity_message_and_time_with_its_properties_as_fields()
    {
        var stderr = Capture(factory =>
        {
            var logger = factory.CreateLogger("run");
            using (logger.BeginScope(new Dictionary<string, object> { ["JobId"] = 42L }))
            {
                logger.LogInformation("Job {JobId} outcome {Outcome}", 42, "Exited { ExitCode = 0 }");
            }
            logger.LogWarning("{Signal}: draining", "SIGTERM");
            logger.LogError(new InvalidOperationException("boom"), "Could not report {State}", "finish");
            logger.LogDebug("not written at the information level");
        });

        var lines = Lines(stderr);
        Assert.Equal(["INFO", "WARNING", "ERROR"], lines.Select(l => l["severity"]!.GetValue<string>()));
        Assert.Equal("Job 42 outcome Exited { ExitCode = 0 }", lines[0]["message"]!.GetValue<string>());
        Assert.Equal(42, lines[0]["JobId"]!.GetValue<long>());
        Assert.Equal("host-1", lines[0]["Host"]!.GetValue<string>());
        Assert.Equal("SIGTERM: draining", lines[1]["message"]!.GetValue<string>());
        Assert.Contains("System.InvalidOperationException: boom", lines[2]["exception"]!.GetValue<string>());
        Assert.True(DateTimeOffset.TryParse(lines[0]["time"]!.GetValue<string>(), out _));
        Assert.All(lines, l => Assert.Null(l[CloudLoggingJsonFormatter.TraceField]));
    }

    [Fact]
    public void A_line_written_inside_a_trace_names_the_trace_in_its_project_the_span_and_whether_it_is_sampled()
    {
        var source = Source; // created before the listener looks at the sources there are
        using var listener = new ActivityListener
        {
            ShouldListenTo = candidate => candidate.Name == source.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        string? traceId = null, spanId = null;

        var stderr = Capture(factory =>
        {
            using var activity = source.StartActivity("job")!;
            traceId = activity.TraceId.ToHexString();
            spanId = activity.SpanId.ToHexString();
            factory.CreateLogger("pipeline").LogInformation("inside the job's span");
        });

        var line = Lines(stderr).Single();
        Assert.Equal($"projects/my-ci-project/traces/{traceId}", line[CloudLoggingJsonFormatter.TraceField]!.GetValue<string>());
        Assert.Equal(spanId, line[CloudLoggingJsonFormatter.SpanField]!.GetValue<string>());
        Assert.True(line[CloudLoggingJsonFormatter.SampledField]!.GetValue<bool>());
    }

    [Fact]
    public async Task The_worker_process_logs_json_lines_with_severity_when_told_to()
    {
        using var dir = new TempDirectory();
        var (exit, _, stderr, _) = await WorkerProcess.RunAsync(new Dictionary<string, string>
        {
            ["WORKER_LOG_FORMAT"] = "json",
            ["WORKER_BASE_DIR"] = dir.Path,
            ["WORKER_MAX_LIFETIME"] = "1s",
            ["WORKER_BOGUS_KEY"] = "x",
        }, dir.Path, "run");

        Assert.Equal(0, exit);
        var lines = Lines(stderr);
        Assert.Contains(lines, l => l["severity"]!.GetValue<string>() == "WARNING" && l["message"]!.GetValue<string>().Contains("WORKER_BOGUS_KEY", StringComparison.Ordinal));
        Assert.Contains(lines, l => l["severity"]!.GetValue<string>() == "INFO" && l["message"]!.GetValue<string>().StartsWith("Max lifetime reached", StringComparison.Ordinal));
    }
}
