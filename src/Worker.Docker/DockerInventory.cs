using System.Globalization;
using System.Runtime.CompilerServices;
using Docker.DotNet;
using Docker.DotNet.Models;
using Worker.Core.Backends;

namespace Worker.Docker;

/// <summary>
/// The containers worker fleets made on this engine (any with a <c>worker-fleet</c> label), with
/// their labels, age and state. Docker can't relabel, so a standby carries what changes in its name:
/// a taken one its job's id and deadline (<see cref="StandbyClaim"/>), an idle one the end of its
/// worker's lease (<see cref="StandbyLease"/>), which is its deadline: once it has passed, the worker
/// that kept it is gone. They are reported here as labels, so cleanup treats them like any job's container.
/// </summary>
public sealed class DockerInventory(IDockerClient client, bool ownsClient = false) : IInstanceInventory
{
    public string Backend => "docker";

    public void Dispose()
    {
        if (ownsClient)
        {
            client.Dispose();
        }
    }

    public async IAsyncEnumerable<MachineRecord> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var containers = await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [MachineLabels.Fleet] = true },
            },
        }, ct);
        foreach (var c in containers)
        {
            var name = c.Names?.FirstOrDefault()?.TrimStart('/') ?? c.ID;
            yield return new MachineRecord(c.ID, name, EffectiveLabels(name, c.Labels), Utc(c.Created), StateOf(c.State));
        }
    }

    /// <summary>
    /// Removes a container. An idle standby is first renamed from the name it was listed under, as its
    /// worker does with every move, so one whose worker renewed its lease or gave it to a job meanwhile is left alone.
    /// </summary>
    public async Task DeleteAsync(MachineRecord machine, CancellationToken ct)
    {
        if (StandbyLease.TryParse(machine.Name, out var suffix, out _))
        {
            var reaped = StandbyLease.Name(suffix, 0);
            if (machine.Name != reaped)
            {
                try
                {
                    await client.Containers.RenameContainerAsync(machine.Name, new ContainerRenameParameters { NewName = reaped }, ct);
                }
                catch (Exception e) when (DockerFailures.IsNoSuchContainer(e))
                {
                    throw new InvalidOperationException($"standby {machine.Name} was renewed or taken by its worker meanwhile", e);
                }
            }
            await ContainerLauncher.RemoveAsync(client, reaped, ct);
            return;
        }
        await ContainerLauncher.RemoveAsync(client, machine.Id, ct);
    }

    /// <summary>A taken standby's labels with its job's id and deadline; an idle one's with its lease's end for deadline.</summary>
    public static IReadOnlyDictionary<string, string> EffectiveLabels(string name, IDictionary<string, string>? labels)
    {
        var effective = new Dictionary<string, string>(labels ?? new Dictionary<string, string>());
        if (effective.GetValueOrDefault(MachineLabels.Standby) != "true")
        {
            return effective;
        }
        if (StandbyClaim.TryParse(name, out var jobId, out var deadline))
        {
            effective[MachineLabels.Standby] = "taken";
            effective[MachineLabels.JobId] = jobId.ToString(CultureInfo.InvariantCulture);
            effective[MachineLabels.Deadline] = deadline.ToString(CultureInfo.InvariantCulture);
        }
        else if (StandbyLease.TryParse(name, out _, out var leaseEnd))
        {
            effective[MachineLabels.Deadline] = leaseEnd.ToString(CultureInfo.InvariantCulture);
        }
        return effective;
    }

    private static DateTimeOffset Utc(DateTime created) => created.Kind == DateTimeKind.Local
        ? new DateTimeOffset(created.ToUniversalTime(), TimeSpan.Zero)
        : new DateTimeOffset(DateTime.SpecifyKind(created, DateTimeKind.Utc));

    public static MachineState StateOf(string? state) => state switch
    {
        "created" or "restarting" => MachineState.Provisioning,
        "running" or "paused" => MachineState.Running,
        "removing" => MachineState.Stopping,
        "exited" or "dead" => MachineState.Stopped,
        _ => MachineState.Unknown,
    };
}
