using System.Globalization;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Images;

namespace Worker.Vm;

/// <summary>
/// A fresh VM per job from a golden image, through the Tart or Vetu CLI (<see cref="VmTool"/>). In
/// order: the operator's policy (image allow-list, ceilings, volumes) before anything happens; a
/// standby if the job asks for exactly what one is; else a fresh VM (<see cref="VmLauncher"/>: the
/// image pulled if it is missing, the run-arguments lease taken, the record written, and the VM
/// cloned, set, run and reached over SSH). Whatever fails after the record exists deletes the VM before this throws.
/// A caller may keep a standby of its own (<see cref="KeepStandby"/>, with a warm-up that only Tart
/// runs) and pull images ahead of the jobs (<see cref="IImagePuller"/>).
/// </summary>
public sealed class VmBackend : IBackend, IStandbyHost, IImagePuller, IAsyncDisposable
{
    private readonly VmTool _tool;
    private readonly VmOptions _options;
    private readonly VmImages _images;
    private readonly VmLauncher _launcher;
    private readonly ILogger _logger;
    private readonly MachineLabels _labels;
    private readonly List<Task> _replaced = [];
    private readonly Lock _standbyGate = new();

    public VmBackend(VmTool tool, VmOptions options, MachineLabels labels, ILogger logger)
    {
        _tool = tool;
        _options = options;
        _logger = logger;
        _labels = labels;
        Policy = new VmPolicy(options, tool.MountsVolumes);
        Records = new VmRecordStore(options.StateDirectory);
        SweepLeftovers();
        _images = new VmImages(tool, options, logger);
        _launcher = new VmLauncher(tool, options, _images, Records, Leases, logger);
        if (options.StandbyCount > 0)
        {
            Standby = new VmStandbyPool(_launcher, Policy.Default, labels, options, logger);
            Standby.Replenish();
        }
    }

    public string Name => _tool.Name;

    public VmOptions Options => _options;

    public VmPolicy Policy { get; }

    public VmRecordStore Records { get; }

    /// <summary>The named locks of extra run arguments, held by a VM from before its clone until it is deleted.</summary>
    public RunArgumentLeases Leases { get; } = new();

    /// <summary>The booted standby VMs, when <c>_STANDBY</c> is above 0 or a caller asked for one (<see cref="KeepStandby"/>).</summary>
    public VmStandbyPool? Standby { get; private set; }

    public IReadOnlyList<(string Name, DateTimeOffset ReadyAt)> ReadyStandbys => Standby?.ReadyMachines ?? [];

    public void KeepStandby(StandbyRequest? request)
    {
        var pool = request is null
            ? (_options.StandbyCount > 0 ? new VmStandbyPool(_launcher, Policy.Default, _labels, _options, _logger) : null)
            : new VmStandbyPool(_launcher, Policy.Decide(request.Machine), _labels, _options with { StandbyCount = 1 }, _logger,
                WarmupOf(request), request.BeforeEachBoot);
        lock (_standbyGate)
        {
            if (Standby is { } old)
            {
                // Its idle VMs are deleted now; the backend's dispose waits for that.
                _replaced.Add(old.DisposeAsync().AsTask());
            }
            Standby = pool;
        }
        pool?.Replenish();
    }

    public Task PullAsync(string image, CancellationToken ct) => _images.PullNowAsync(image, ct);

    public void LeavePullsToCaller(IReadOnlyCollection<string> images) => _images.LeavePullsToCaller(images);

    /// <summary>The warm-up each standby of <paramref name="request"/> gets: none without a script, nor on a tool that runs none (said once, here).</summary>
    private VmWarmup? WarmupOf(StandbyRequest request)
    {
        if (request.Warmup is not { } warmup || string.IsNullOrWhiteSpace(warmup.Script))
        {
            return null;
        }
        if (!_tool.RunsWarmupScript)
        {
            _logger.LogInformation("The standby's warm-up script is not run on {Tool}: cirrus-cli's {Tool} standby only boots, and so does this one", Name, Name);
            return null;
        }
        return new VmWarmup(warmup, _logger);
    }

    /// <summary>
    /// Removes the files that a worker killed on this host left (lock files with no record, records
    /// half-written): a host without the cleanup sidecar would gather them. Workers sharing the
    /// folder may do this at once (see <see cref="VmLockFile"/>).
    /// </summary>
    private void SweepLeftovers()
    {
        try
        {
            foreach (var path in Records.SweepLeftovers(dryRun: false))
            {
                _logger.LogInformation("Removed leftover file {Path}: a lock file with no record, or a record left half-written, that no live process holds", path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Writing a record fails later with a message naming WORKER_BASE_DIR; this alone stops no job.
            _logger.LogWarning("Could not look for leftover lock and record files in {Directory} ({Error})", Records.Directory, e.Message);
        }
    }

    public string ProbeDescription => $"{_tool.Name} list through {_tool.Cli.Path}";

    /// <summary>A <c>list</c>: the binary must be there and its VM storage readable.</summary>
    public async Task ProbeAsync(CancellationToken ct)
    {
        try
        {
            await _tool.ListAsync(ct);
        }
        catch (VmCliException e)
        {
            throw BackendFailureException.Host($"{_tool.Name} list fails on this host: {e.Result.FirstLine}", e);
        }
    }

    public async Task<IInstance> StartAsync(StartAttributes attributes, IProgress<string> progress, CancellationToken ct)
    {
        var spec = Policy.Decide(attributes);
        var pool = Standby is { } standbys && spec.IsStandbyShaped(standbys.Spec) ? standbys : null;
        var imageEnsured = false;
        if (pool is not null && _options.Pull == ImagePullPolicy.Always)
        {
            // A standby was cloned when it booted, and `always` asks for the image as its registry
            // has it now: the pull comes first, and a standby cloned before it moved the tag is not taken.
            await _launcher.EnsureImageAsync(spec.Image, progress, ct);
            imageEnsured = true;
        }
        var standby = pool?.TryClaim(attributes);
        if (Standby is not null)
        {
            Core.Telemetry.WorkerMetrics.StandbyClaim(Name, hit: standby is not null);
        }
        if (standby is not null)
        {
            progress.Report($"Using standby VM {standby.Name} ({spec.Image}), booted {(DateTimeOffset.UtcNow - standby.BootedAt).TotalSeconds:0}s ago.");
            return new VmInstance(standby, _logger);
        }
        var name = $"worker-job-{attributes.JobId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}";
        var machine = await _launcher.LaunchAsync(name, spec, attributes.Labels, progress, ct, imageEnsured);
        return new VmInstance(machine, _logger);
    }

    public async ValueTask DisposeAsync()
    {
        if (Standby is not null)
        {
            await Standby.DisposeAsync();
        }
        await Task.WhenAll(_replaced);
        _images.Dispose();
    }
}
