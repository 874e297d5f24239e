namespace Worker.Vm.Tests.Fakes;

/// <summary>
/// A stand-in <c>vetu</c> (reference cirrus-wire.md §9, and vetu's own source): Cobra's exit code 1
/// for every error with the bare message on stderr; a VM that does not exist is a
/// <c>config.json</c> that can't be opened; <c>list</c> is a table (no JSON) with a humanized size;
/// every clone gets a fresh MAC; no <c>get</c>; and <c>delete</c> reports a VM it could not delete on
/// stdout and still exits 0, as vetu does.
/// </summary>
public sealed class FakeVetu() : FakeVmCli("vetu")
{
    protected override string NoIpMessage => "VM's IP not found in the ARP cache, is the VM running?";

    protected override int UsageExitCode => 1;

    protected override (string[] Valued, string[] Switches) SetFlags => (["--cpu", "--memory", "--disk-size"], []);

    protected override (string[] Valued, string[] Switches) RunFlags => (["--net-bridged", "--net-host-mtu", "--device"], ["--net-host"]);

    protected override (string[] Valued, string[] Switches) ListFlags => (["--source"], ["-q", "--quiet"]);

    protected override bool CloneKeepsMac => false;

    protected override (int Code, string Message) NoSuchVm(string name) => (1, $"open /root/.vetu/vms/{name}/config.json: no such file or directory");

    protected override (int Code, string Message) NotRunning(string name) => (1, $"VM \"{name}\" is not running");

    protected override (int Code, string Message) AlreadyRunning(string name) => (1, $"VM \"{name}\" is already running");

    protected override async Task ListAsync(FakeCliCall call, IReadOnlyDictionary<string, string?> flags,
        IReadOnlyList<(string Name, bool Local, FakeVmImage Image, FakeVm? Vm)> entries)
    {
        if (flags.ContainsKey("-q") || flags.ContainsKey("--quiet"))
        {
            foreach (var entry in entries)
            {
                await call.OutAsync(entry.Name);
            }
        }
        else
        {
            await call.OutAsync("Source  Name                        Size   State");
            foreach (var e in entries)
            {
                await call.OutAsync($"{(e.Local ? "local" : "oci")}  {e.Name}  {e.Vm?.DiskGb ?? e.Image.DiskGb} GB  {(e.Vm?.Running == true ? "running" : "stopped")}");
            }
        }
        await call.ExitAsync(0);
    }

    protected override async Task<int?> DeleteFailedAsync(FakeCliCall call, string name, int code, string reason)
    {
        await call.OutAsync($"failed to delete VM \"{name}\": cannot remove VM {name}: {reason}");
        return null;
    }
}
