using Microsoft.Extensions.Logging;
using Worker.Ssh;

namespace Worker.Vm;

/// <summary>
/// What differs between Tart and Vetu: the flags of <c>set</c> and <c>run</c>, how <c>list</c> reads,
/// how each says "no such VM", the guest's OS, and shared directories. Everything else (the VM's
/// lifecycle, records, standby, policy) is the same code for both.
/// </summary>
public abstract class VmTool(VmCli cli)
{
    public VmCli Cli { get; } = cli;

    public string Name => Cli.Tool;

    /// <summary>Whether jobs may mount host directories (<c>config.volumes</c>).</summary>
    public abstract bool MountsVolumes { get; }

    /// <summary>
    /// Whether a standby's warm-up script runs in it. Vetu's does not: cirrus-cli's Vetu warm-up only
    /// boots the VM (observed), and a standby should behave here as it does there.
    /// </summary>
    public virtual bool RunsWarmupScript => false;

    /// <summary>Extra environment of <c>clone</c> (Tart: <c>TART_NO_AUTO_PRUNE</c>, so a clone never prunes the cache under another job).</summary>
    public virtual IReadOnlyDictionary<string, string>? CloneEnvironment => null;

    /// <summary>Arguments of <c>list</c> whose output <see cref="ParseList"/> reads.</summary>
    public abstract IReadOnlyList<string> ListArguments { get; }

    /// <summary>The <c>set</c> calls that make a fresh clone into <paramref name="spec"/>.</summary>
    public abstract IEnumerable<VmSetCall> SetCalls(VmSpec spec);

    /// <summary>CPUs, memory (MiB) and disk (GB), each a <c>set</c> of its own and only when not the image's own; both tools spell them alike.</summary>
    protected static IEnumerable<VmSetCall> SizeCalls(VmSpec spec)
    {
        if (spec.Cpus > 0)
        {
            yield return new VmSetCall(["--cpu", Text(spec.Cpus)], spec.CpusAsked);
        }
        if (spec.MemoryMib > 0)
        {
            yield return new VmSetCall(["--memory", Text(spec.MemoryMib)], spec.MemoryAsked);
        }
        if (spec.DiskGb > 0)
        {
            yield return new VmSetCall(["--disk-size", Text(spec.DiskGb)], spec.DiskAsked);
        }
    }

    protected static string Text(long n) => n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The flags of <c>run</c> (before the VM's name) for <paramref name="spec"/>.</summary>
    public abstract IReadOnlyList<string> RunFlags(VmSpec spec);

    public abstract IReadOnlyList<ListedVm> ParseList(string stdout);

    /// <summary>Whether a failed call says the VM (or image) does not exist.</summary>
    public abstract bool SaysNoSuchVm(VmCliResult result);

    /// <summary>Why a <c>delete</c> failed, or null when it worked.</summary>
    protected virtual string? DeleteFailure(VmCliResult result) => result.ExitCode == 0 ? null : result.FirstLine;

    /// <summary>The guest's OS (<c>linux</c> or <c>darwin</c>), which decides how the script runs and how volumes appear.</summary>
    public virtual Task<string> GuestOsAsync(string vm, CancellationToken ct) => Task.FromResult(GuestOs.Linux);

    /// <summary>Makes the job's volumes appear at their targets in the guest, over SSH.</summary>
    public virtual Task LinkVolumesAsync(SshMachine machine, VmSpec spec, string guestOs, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Deletes a VM; one that is not there counts as deleted. Throws <see cref="VmCliException"/> when it stays.</summary>
    public async Task DeleteAsync(string vm, CancellationToken ct)
    {
        var result = await Cli.RunAsync(["delete", vm], ct);
        if (DeleteFailure(result) is not null && !SaysNoSuchVm(result))
        {
            throw new VmCliException(Name, result);
        }
    }

    /// <summary>
    /// <c>stop --timeout 5</c>: the guest gets a few seconds to shut down, then the VM is killed. Its
    /// failure (the VM never ran, or stopped already) changes nothing for the caller, who deletes next.
    /// </summary>
    public async Task StopAsync(string vm, CancellationToken ct)
    {
        var result = await Cli.RunAsync(["stop", "--timeout", "5", vm], ct);
        if (result.ExitCode != 0)
        {
            Cli.Logger.LogDebug("{Tool} stop {Vm}: {Error}", Name, vm, result.FirstLine);
        }
    }

    /// <summary>What <c>list</c> shows: local VMs and cached OCI images.</summary>
    public async Task<IReadOnlyList<ListedVm>> ListAsync(CancellationToken ct) => ParseList(await Cli.CheckedAsync(ListArguments, ct));
}
