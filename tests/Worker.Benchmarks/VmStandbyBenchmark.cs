using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Pipeline;
using Worker.Core.Queues;
using Worker.Core.Scripts;
using Worker.TestSupport;
using Worker.Vm;
using Worker.Vm.Tart;
using Worker.Vm.Tests.Fakes;
using Worker.Vm.Vetu;

namespace Worker.Benchmarks;

/// <summary>
/// Median time from a job received to its script running, on a VM of the stand-in tart and vetu
/// (tests/Worker.Vm.Tests/Fakes: one CLI process per call, each VM a real sshd that starts at
/// run), with one standby VM against a cold VM on the same stand-in, interleaved. "Script running"
/// is the clock reading the job's first command prints in the VM (the stand-in's guests share the
/// host's clock). The standby is refilled between measurements, unmeasured. The stand-in boots in
/// a few hundred milliseconds; a real VM takes tens of seconds more, all of which a standby saves.
/// </summary>
public static partial class VmStandbyBenchmark
{
    private const int Rounds = 9;
    private const string GuestUser = "worker-vm-guest";
    private const string GuestPassword = "worker-vm-pw";
    private const string Image = "golden-linux";

    public static async Task<int> RunAsync()
    {
        await TestSshUsers.PasswordUserAsync(GuestUser, GuestPassword);
        foreach (var tool in new[] { "tart", "vetu" })
        {
            await using FakeVmCli fake = tool == "tart" ? new FakeTart() : new FakeVetu();
            fake.AddLocalImage(Image, new FakeVmImage("linux", GuestUser));
            var baseDir = Directory.CreateTempSubdirectory("vm-bench-").FullName;
            try
            {
                await using var cold = new WorkerUnderTest(tool, fake, baseDir, standby: 0);
                await using var warm = new WorkerUnderTest(tool, fake, baseDir, standby: 1);
                await cold.RunJobAsync();
                await warm.RunJobAsync();
                var coldTimes = new List<double>();
                var warmTimes = new List<double>();
                for (var round = 0; round < Rounds; round++)
                {
                    coldTimes.Add(await cold.RunJobAsync());
                    warmTimes.Add(await warm.RunJobAsync());
                }
                Console.WriteLine($"{tool}: received to script running, cold VM:    median {Median(coldTimes):F0} ms (min {coldTimes.Min():F0}, max {coldTimes.Max():F0}, {Rounds} jobs)");
                Console.WriteLine($"{tool}: received to script running, 1 standby:  median {Median(warmTimes):F0} ms (min {warmTimes.Min():F0}, max {warmTimes.Max():F0}, {Rounds} jobs)");
                Console.WriteLine($"{tool}: standby/cold ratio {Median(warmTimes) / Median(coldTimes):F2}");
            }
            finally
            {
                Directory.Delete(baseDir, recursive: true);
            }
        }
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    [GeneratedRegex("script-start ([0-9]{19})")]
    private static partial Regex StartStamp();

    /// <summary>One processor on an in-memory queue and the VM backend on the stand-in.</summary>
    private sealed class WorkerUnderTest : IAsyncDisposable
    {
        private readonly InMemoryJobQueue _queue = new();
        private readonly VmBackend _backend;
        private readonly ProcessorPool _pool;
        private readonly Task _running;
        private long _nextId = 1;

        public WorkerUnderTest(string tool, FakeVmCli fake, string baseDir, int standby)
        {
            var prefix = "WORKER_" + tool.ToUpperInvariant();
            var settings = SettingsSource.From(
                (prefix + "_PATH", fake.ProgramPath), (prefix + "_SSH_USER", GuestUser), (prefix + "_SSH_PASSWORD", GuestPassword),
                (prefix + "_SSH_PORT", fake.SshPort.ToString(CultureInfo.InvariantCulture)), (prefix + "_IMAGE_DEFAULT", Image),
                (prefix + "_STANDBY", standby.ToString(CultureInfo.InvariantCulture)));
            var labels = new MachineLabels("bench-" + Guid.NewGuid().ToString("N")[..8], "bench-host", TimeSpan.FromMinutes(10));
            var flavor = tool == "tart" ? TartRegistration.Flavor : VetuRegistration.Flavor;
            _backend = flavor.CreateBackend(settings, baseDir, labels, NullLoggerFactory.Instance);
            var worker = new WorkerOptions { FlushInterval = TimeSpan.FromMilliseconds(20) };
            var pipeline = new JobPipeline(worker, _backend, new BuiltinScriptGenerator(), new JobCancellations(), labels, NullLogger<JobPipeline>.Instance);
            _pool = new ProcessorPool(_queue, pipeline, 1, NullLogger<ProcessorPool>.Instance);
            _running = _pool.RunAsync(CancellationToken.None);
        }

        /// <summary>Milliseconds from the job's arrival to its first command running in the VM.</summary>
        public async Task<double> RunJobAsync()
        {
            if (_backend.Standby is { } standby)
            {
                await standby.FillAsync(CancellationToken.None);
            }
            var payload = JobFile.Parse($"id: {_nextId++}\nscript: [ 'echo script-start $(date +%s%N)' ]", "bench");
            var received = DateTimeOffset.UtcNow;
            var job = _queue.Enqueue(payload);
            var outcome = await job.Outcome;
            if (outcome != "passed" || StartStamp().Match(job.Log) is not { Success: true } stamp)
            {
                throw new InvalidOperationException($"benchmark job {outcome}: {job.Log}");
            }
            var started = long.Parse(stamp.Groups[1].Value, CultureInfo.InvariantCulture);
            var processed = _nextId - 1;
            await Eventually.TrueAsync(() => _pool.Statuses.Sum(s => s.Processed) >= processed, "the job's VM is deleted", TimeSpan.FromMinutes(2));
            return (started - (received - DateTimeOffset.UnixEpoch).Ticks * 100) / 1e6;
        }

        public async ValueTask DisposeAsync()
        {
            _queue.Complete();
            await _pool.DrainAsync(TimeSpan.FromSeconds(30));
            await _running;
            await _backend.DisposeAsync();
        }
    }
}
