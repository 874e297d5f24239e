namespace Worker.Vm.Tart;

/// <summary>The Tart backend (<c>WORKER_PROVIDER_NAME=tart</c>), built from <c>WORKER_TART_*</c>.</summary>
public static class TartRegistration
{
    public const string Name = "tart";

    public static VmFlavor Flavor { get; } = new(Name, "Tart backend (a macOS or Linux VM per job on Apple silicon)", TartOptions.All,
        (settings, baseDirectory) =>
        {
            var options = TartOptions.Load(settings, baseDirectory);
            return (options.Vm, cli => new TartTool(cli, options));
        });

    public static Worker.Core.Registration.BackendRegistration Backend { get; } = Flavor.Registration;
}
