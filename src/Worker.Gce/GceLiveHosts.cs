using Worker.Core.Backends;
using Worker.Core.Cleanup;

namespace Worker.Gce;

/// <summary>
/// The instances of the project the worker hosts run in, as one cleanup pass listed them. A job VM's
/// host lives when an instance of that name is in the zone its labels give; a VM naming another
/// project was not looked for, so it is not judged. A VM an older worker labelled with a name alone
/// had its host in the job project (what cleanup used to list): it is judged only when that is the
/// project listed, and its host lives when any zone there has that name.
/// </summary>
public sealed class GceLiveHosts(string project, string jobProject, IReadOnlySet<(string Zone, string Name)> hosts) : ILiveWorkerHosts
{
    public bool? Lives(IReadOnlyDictionary<string, string> labels, out string host)
    {
        host = "";
        if (!labels.TryGetValue(MachineLabels.HostMachine, out var name))
        {
            return null;
        }
        var zone = labels.GetValueOrDefault(MachineLabels.HostZone);
        var hostProject = labels.GetValueOrDefault(MachineLabels.HostProject);
        host = string.Join('/', new[] { hostProject, zone, name }.Where(p => p is not null));
        if ((hostProject ?? jobProject) != project)
        {
            return null;
        }
        return zone is not null ? hosts.Contains((zone, name)) : hosts.Any(h => h.Name == name);
    }
}
