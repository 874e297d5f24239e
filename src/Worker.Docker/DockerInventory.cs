using System.Globalization;
using System.Runtime.CompilerServices;
using Docker.DotNet;
using Docker.DotNet.Models;
using Worker.Core.Backends;

namespace Worker.Docker;

/// <summary>
/// The containers worker fleets made on this engine (any with a <c>worker-fleet</c> label), with
/// their labels, age and state. A standby a job took carries its job id and deadline in its name
/// (<see cref="StandbyClaim"/>), since Docker can't relabel; they are reported here as labels, so
/// cleanup treats it like any job's container.
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

    public Task DeleteAsync(MachineRecord machine, CancellationToken ct) => ContainerLauncher.RemoveAsync(client, machine.Id, ct);

    /// <summary>A taken standby's labels with its job's id and deadline; an idle one's as they are.</summary>
    public static IReadOnlyDictionary<string, string> EffectiveLabels(string name, IDictionary<string, string>? labels)
    {
        var effective = new Dictionary<string, string>(labels ?? new Dictionary<string, string>());
        if (effective.GetValueOrDefault(MachineLabels.Standby) == "true" && StandbyClaim.TryParse(name, out var jobId, out var deadline))
        {
            effective[MachineLabels.Standby] = "taken";
            effective[MachineLabels.JobId] = jobId.ToString(CultureInfo.InvariantCulture);
            effective[MachineLabels.Deadline] = deadline.ToString(CultureInfo.InvariantCulture);
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
