using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Registration;

namespace Worker.Vm.Vetu;

/// <summary>The Vetu backend (<c>WORKER_PROVIDER_NAME=vetu</c>): its backend and inventory built from <c>WORKER_VETU_*</c>.</summary>
public static class VetuRegistration
{
    public const string Name = "vetu";

    public static BackendRegistration Backend { get; } = new()
    {
        Name = Name,
        SettingsTitle = "Vetu backend (a Linux VM per job on Linux with KVM)",
        Settings = VetuOptions.All,
        CreateBackend = services => CreateBackend(services.Settings, services.Options.BaseDirectory, services.Labels, services.Loggers),
        // Records and locks under WORKER_BASE_DIR say which VMs this fleet made and whether a live worker holds them.
        CreateInventory = services => new CleanupInventory(CreateInventory(services.Settings, services.Options.BaseDirectory, services.Loggers), Hosts: null),
    };

    public static VmBackend CreateBackend(SettingsSource settings, string baseDirectory, MachineLabels labels, ILoggerFactory loggers) =>
        CreateBackend(settings, baseDirectory, labels, loggers, vm => vm);

    /// <param name="adjust">Changes to what no setting reaches (tests: shorter standby retries).</param>
    internal static VmBackend CreateBackend(SettingsSource settings, string baseDirectory, MachineLabels labels, ILoggerFactory loggers,
        Func<VmOptions, VmOptions> adjust)
    {
        var options = VetuOptions.Load(settings, baseDirectory);
        options = options with { Vm = adjust(options.Vm) };
        var logger = loggers.CreateLogger<VmBackend>();
        return new VmBackend(Tool(options, logger), options.Vm, labels, logger);
    }

    public static VmInventory CreateInventory(SettingsSource settings, string baseDirectory, ILoggerFactory loggers)
    {
        var options = VetuOptions.Load(settings, baseDirectory);
        return new VmInventory(Tool(options, loggers.CreateLogger<VmInventory>()), new VmRecordStore(options.Vm.StateDirectory));
    }

    private static VetuTool Tool(VetuOptions options, ILogger logger) =>
        new(new VmCli(Name, options.Vm.CliPath, options.Vm.CliPathVariable, logger), options);
}
