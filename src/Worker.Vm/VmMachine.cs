using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Ssh;

namespace Worker.Vm;

/// <summary>
/// One VM from its record to its delete. Boot: <c>clone</c>, each <c>set</c>, <c>run</c> in the
/// background, <c>ip --wait</c> until it answers, then SSH with the image's user and password
/// (the host key of this fresh VM is pinned at first sight). The boot timeout bounds everything
/// from <c>run</c> on, and a <c>run</c> that ends stops the waiting at once. Destroy, on every path
/// and once: <c>stop --timeout 5</c>, kill <c>run</c>, <c>delete</c>, then the record goes and the
/// VM's lock and run-arguments lease are let go. A VM whose delete fails keeps its record, no longer
/// held, for <c>worker cleanup</c>. Failures are classified where they happen: an image that is not
/// there or a value the job asked for that the tool refuses is the job's; a clone that fails, a
/// setting the tool refuses or credentials the default image refuses are this host's.
/// </summary>
public sealed class VmMachine
{
    private static readonly TimeSpan StopBudget = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan KillPatience = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan IpRetryPause = TimeSpan.FromSeconds(1);
    private const int IpWaitSeconds = 30;

    private readonly VmTool _tool;
    private readonly VmOptions _options;
    private readonly IDisposable? _lease;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private Task? _destroyed;

    internal VmMachine(VmTool tool, VmOptions options, string name, VmSpec spec, VmRecordLock record, IDisposable? lease, ILogger logger)
    {
        _tool = tool;
        _options = options;
        Name = name;
        Spec = spec;
        Record = record;
        _lease = lease;
        _logger = logger;
    }

    public string Name { get; }

    public VmSpec Spec { get; }

    public VmRecordLock Record { get; }

    /// <summary>The moves of its image's tag seen here before its clone (<see cref="VmImages.Moves"/>): fewer than now, and it is of the image as it was.</summary>
    public int ImageMoves { get; init; }

    /// <summary>The <c>run</c> process, once the VM was started.</summary>
    public VmRunProcess? Run { get; private set; }

    /// <summary>The SSH session to the booted VM.</summary>
    public SshMachine Ssh => _ssh ?? throw new InvalidOperationException($"VM {Name} has not booted");

    /// <summary><c>linux</c> or <c>darwin</c>, once booted.</summary>
    public string GuestOs { get; private set; } = Vm.GuestOs.Linux;

    /// <summary>When SSH first let the worker in.</summary>
    public DateTimeOffset BootedAt { get; private set; }

    private SshMachine? _ssh;

    public async Task BootAsync(IProgress<string> progress, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        progress.Report($"Cloning {Spec.Image} to VM {Name}.");
        await CloneAsync(ct);
        foreach (var set in _tool.SetCalls(Spec))
        {
            await SetAsync(set, ct);
        }
        progress.Report($"Starting VM {Name}.");
        Run = _tool.Cli.StartRun(["run", .. _tool.RunFlags(Spec), Name]);
        using var boot = CancellationTokenSource.CreateLinkedTokenSource(ct, Run.ExitedToken);
        boot.CancelAfter(_options.BootTimeout);
        var waitingFor = "IP address";
        try
        {
            var ip = await WaitForIpAsync(boot.Token);
            progress.Report($"VM {Name} has IP address {ip} after {clock.Elapsed.TotalSeconds:0.0}s; waiting for SSH.");
            waitingFor = "SSH login";
            _ssh = new SshMachine(new SshEndpoint(ip, Spec.Request?.SshPort ?? _options.SshPort, SshUser), SshCredential.FromPassword(Spec.Request?.Password ?? _options.SshPassword),
                HostKeyPolicy.PinFirstKey(), _options.Ssh, _logger);
            await ConnectAsync(_ssh, boot.Token);
            waitingFor = "answer about the guest's OS";
            GuestOs = await _tool.GuestOsAsync(Name, boot.Token);
            waitingFor = "links to the job's volumes";
            await _tool.LinkVolumesAsync(_ssh, Spec, GuestOs, boot.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Run.HasExited
                ? new VmBootException($"VM {Name} stopped while booting ({Run.Describe()})")
                : new VmBootException($"VM {Name}: no {waitingFor} within {_options.Variable("BOOT_TIMEOUT")} ({Durations.Format(_options.BootTimeout)})");
        }
        catch (SshUnreachableException e) when (Run.HasExited)
        {
            throw new VmBootException($"VM {Name} stopped while booting ({Run.Describe()})", e);
        }
        BootedAt = DateTimeOffset.UtcNow;
        progress.Report($"SSH is up on VM {Name} after {clock.Elapsed.TotalSeconds:0.0}s.");
    }

    /// <summary>Stops and deletes the VM and lets go of everything it holds; a second call waits for the first.</summary>
    public Task DestroyAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            return _destroyed ??= DestroyOnceAsync(ct);
        }
    }

    private async Task DestroyOnceAsync(CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            if (_ssh is not null)
            {
                await _ssh.DisposeAsync();
            }
            if (Run is { HasExited: false })
            {
                using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct);
                stopping.CancelAfter(StopBudget);
                try
                {
                    await _tool.StopAsync(Name, stopping.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or BackendFailureException)
                {
                    _logger.LogDebug("{Tool} stop {Vm} gave up: {Error}", _tool.Name, Name, e.Message);
                }
                await Run.KillAsync(KillPatience);
            }
            try
            {
                await _tool.DeleteAsync(Name, ct);
            }
            catch (Exception e)
            {
                _logger.LogError("Could not delete VM {Vm} ({Error}); its record stays in {Directory}, so worker cleanup deletes it",
                    Name, e.Message, _options.StateDirectory);
                throw;
            }
            Record.Forget();
            _logger.LogDebug("Deleted VM {Vm}", Name);
        }
        finally
        {
            Record.Release();
            _lease?.Dispose();
            Run?.Dispose();
        }
    }

    private string SshUser => Spec.Request?.User ?? _options.SshUser;

    private async Task CloneAsync(CancellationToken ct)
    {
        var result = await _tool.Cli.RunAsync(["clone", Spec.Image, Name], ct, _tool.CloneEnvironment);
        if (result.ExitCode == 0)
        {
            return;
        }
        if (_tool.SaysNoSuchVm(result))
        {
            throw new JobRefusedException($"image '{Spec.Image}' is not on this host ({_tool.Name} clone: {result.FirstLine})");
        }
        throw BackendFailureException.Host(
            $"{_tool.Name} can't clone {Spec.Image} on this host: {result.FirstLine}", new VmCliException(_tool.Name, result));
    }

    private async Task SetAsync(VmSetCall set, CancellationToken ct)
    {
        var result = await _tool.Cli.RunAsync(["set", Name, .. set.Arguments], ct);
        if (result.ExitCode == 0)
        {
            return;
        }
        var what = string.Join(' ', set.Arguments);
        var error = new VmCliException(_tool.Name, result);
        throw set.AskedByJob
            ? BackendFailureException.Job($"{_tool.Name} refuses what the job asked for ({what}): {result.FirstLine}", error)
            : BackendFailureException.Host($"{_tool.Name} refuses this host's setting ({what}): {result.FirstLine}; check the {_options.Variable("*")} settings", error);
    }

    /// <summary><c>ip --wait</c>, again every second, until it prints an address (cirrus-cli's loop).</summary>
    private async Task<string> WaitForIpAsync(CancellationToken ct)
    {
        while (true)
        {
            var result = await _tool.Cli.RunAsync(["ip", "--wait", IpWaitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), Name], ct);
            if (result.ExitCode == 0 && result.Stdout.Trim() is { Length: > 0 } ip)
            {
                return ip;
            }
            _logger.LogDebug("{Tool} ip {Vm}: {Error}", _tool.Name, Name, result.FirstLine);
            await Task.Delay(IpRetryPause, ct);
        }
    }

    private async Task ConnectAsync(SshMachine ssh, CancellationToken ct)
    {
        try
        {
            await ssh.ConnectAsync(ct);
        }
        catch (SshAuthenticationRefusedException e)
        {
            var credentials = Spec.Request?.User is null
                ? $"{_options.Variable("SSH_USER")} and {_options.Variable("SSH_PASSWORD")}"
                : "the password the job gave";
            // The operator's default image must take the operator's credentials; another image, or other credentials, are the job's choice.
            throw Spec.Image == _options.DefaultImage && Spec.Request?.User is null
                ? BackendFailureException.Host($"VM {Name} of the default image {Spec.Image} refuses {credentials} ({e.Message})", e)
                : BackendFailureException.Job($"image {Spec.Image} does not let {SshUser} in with {credentials} ({e.Message})", e);
        }
    }
}
