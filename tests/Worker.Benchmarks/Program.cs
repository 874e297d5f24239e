// Benchmarks that compare the worker with a baseline measured in the same run and print ratios.
// Run: dotnet run -c Release --project tests/Worker.Benchmarks -- [NAME ...]   (no name: all)
using Worker.Benchmarks;

if (args is [OtlpSinkProcess.Argument])
{
    return await OtlpSinkProcess.ServeAsync(); // the collector stand-in of the telemetry comparison
}

var benchmarks = new Dictionary<string, Func<Task<int>>>(StringComparer.OrdinalIgnoreCase)
{
    ["pipeline"] = PipelineOverheadBenchmark.RunAsync,
    ["amqp"] = AmqpThroughputBenchmark.RunAsync,
    ["amqp-telemetry"] = AmqpThroughputBenchmark.TelemetryOnlyAsync,
    ["docker"] = DockerStartBenchmark.RunAsync,
    ["vm"] = VmStandbyBenchmark.RunAsync,
    ["scale"] = FleetScaleBenchmark.RunAsync,
    ["startup"] = StartupBenchmark.RunAsync,
    ["gce"] = GceCallsBenchmark.RunAsync,
    ["record"] = FinishedJobsBenchmark.RunAsync,
};

var selected = args.Length == 0 ? benchmarks.Keys.ToList() : args.ToList();
var unknown = selected.Where(n => !benchmarks.ContainsKey(n)).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"unknown benchmark(s): {string.Join(", ", unknown)}; known: {string.Join(", ", benchmarks.Keys)}");
    return 2;
}
var status = 0;
foreach (var name in selected)
{
    Console.WriteLine($"== {name}");
    status |= await benchmarks[name]();
}
return status;
