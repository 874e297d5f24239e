namespace Worker.Vm.Vetu;

/// <summary>The Vetu backend (<c>WORKER_PROVIDER_NAME=vetu</c>), built from <c>WORKER_VETU_*</c>.</summary>
public static class VetuRegistration
{
    public const string Name = "vetu";

    public static VmFlavor Flavor { get; } = new(Name, "Vetu backend (a Linux VM per job on Linux with KVM)", VetuOptions.All,
        (settings, baseDirectory) =>
        {
            var options = VetuOptions.Load(settings, baseDirectory);
            return (options.Vm, cli => new VetuTool(cli, options));
        });

    public static Worker.Core.Registration.BackendRegistration Backend { get; } = Flavor.Registration;
}
