using System.Diagnostics;
using System.Globalization;
using Worker.Chaos;
using Worker.Chaos.Scenarios;

// tests/chaos/run.sh [--short] [--only TEXT]: every scenario (or those whose name holds TEXT), then the table.
// Exit code 0 only when every scenario met its goal; one line "chaos: NAME: passed|failed" per scenario for tests/run.sh.
var isShort = args.Contains("--short");
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
IScenario[] scenarios =
[
    KillWorkers.Fake(),
    KillWorkers.Docker(),
    new DockerdRestart(),
    new BrokerRestart(),
    new NetworkCut(),
    new MemoryAlarm(),
    new MalformedFlood(),
    new DiskFull(),
    new ComputeApiStorm(),
    new JobBoardOutage(),
];
var root = Directory.CreateTempSubdirectory("worker-chaos-").FullName;
Console.WriteLine($"chaos suite ({(isShort ? "short" : "full")}); worker logs under {root}");
var results = new List<ScenarioResult>();
var total = Stopwatch.StartNew();
await using (var broker = await ChaosBroker.StartAsync())
{
    var context = new ChaosContext(broker, root);
    foreach (var scenario in scenarios.Where(s => only is null || s.Name.Contains(only, StringComparison.OrdinalIgnoreCase)))
    {
        Console.WriteLine($"- {scenario.Name} ...");
        ScenarioResult result;
        var clock = Stopwatch.StartNew();
        try
        {
            result = await scenario.RunAsync(context, isShort);
        }
        catch (Exception e)
        {
            result = new ScenarioResult(scenario.Name, 0, 0, 0, 0, clock.Elapsed, [$"the scenario itself failed: {e.GetType().Name}: {e.Message}"]);
        }
        results.Add(result);
        foreach (var failure in result.Failures)
        {
            Console.WriteLine($"  FAILED: {failure}");
        }
        Console.WriteLine($"chaos: {result.Name}: {(result.Passed ? "passed" : "failed")}");
    }
}
Console.WriteLine();
Console.WriteLine(Table.Of(results));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{results.Count(r => r.Passed)} of {results.Count} scenarios met their goal in {total.Elapsed.TotalSeconds:0} s"));
if (results.All(r => r.Passed))
{
    Directory.Delete(root, recursive: true);
    return 0;
}
Console.WriteLine($"worker logs kept under {root}");
return 1;
