using Worker.Gce.Tests;
using Worker.Gce.Tests.Fakes;

namespace Worker.Benchmarks;

/// <summary>
/// Compute API calls per GCE job, counted on the tests' fake Compute API (whose VMs are real sshds):
/// a few whole jobs through the pipeline, one after the other, each call counted by kind. Fewer
/// calls is less quota at fleet scale; operations are waited for with zoneOperations.wait, one
/// call each. Goal: at most 5 (insert, its wait, a get for the address, delete, its wait).
/// </summary>
public static class GceCallsBenchmark
{
    private const int Jobs = 3;
    private const int Goal = 5;

    public static async Task<int> RunAsync()
    {
        await using var bed = await GceTestBed.StartAsync(bootVms: true);
        // The default sleeps: they decide how often a poller would ask, which is what is counted.
        var backend = bed.Backend(("GCE_BOOT_PRE_POLL_SLEEP", "0"), ("GCE_BOOT_POLL_SLEEP", "3s"), ("GCE_STOP_POLL_SLEEP", "3s"));
        await using (backend)
        {
            // Warm-up: the first job also resolves the image and the zones, which the backend keeps.
            await RunOneAsync(backend);
            var before = bed.Fake.Requests.Count;
            for (var i = 0; i < Jobs; i++)
            {
                await RunOneAsync(backend);
            }
            var calls = bed.Fake.Requests.Skip(before).GroupBy(r => r.Call).ToDictionary(g => g.Key, g => g.Count());
            var perJob = calls.Values.Sum() / (double)Jobs;
            Console.WriteLine($"GCE job (fake Compute API, {Jobs} jobs after a warm-up): {perJob:F1} Compute API calls per job " +
                $"(goal <= {Goal}: {(perJob <= Goal ? "met" : "missed")})");
            Console.WriteLine("  per job: " + string.Join(", ", calls.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value / (double)Jobs:F1}")));
            return perJob <= Goal ? 0 : 1;
        }
    }

    private static async Task RunOneAsync(Worker.Gce.GceBackend backend)
    {
        var (_, job) = await GceTestBed.RunJobAsync(backend, "script: [\"true\"]");
        if (await job.Outcome != "passed")
        {
            throw new InvalidOperationException($"GCE benchmark job {await job.Outcome}: {job.Log}");
        }
    }
}
