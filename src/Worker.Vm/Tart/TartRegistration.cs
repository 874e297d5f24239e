using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Registration;

namespace Worker.Vm.Tart;

/// <summary>The Tart backend (<c>WORKER_PROVIDER_NAME=tart</c>): its backend and inventory built from <c>WORKER_TART_*</c>.</summary>
public static class TartRegistration
{
    public const string Name = "tart";

    public static BackendRegistration Backend { get; } = new()
    {
        Name = Name,
        SettingsTitle = "Tart backend (a macOS or Linux VM per job on Apple silicon)",
        Settings = TartOptions.All,
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
        var options = TartOptions.Load(settings, baseDirectory);
        options = options with { Vm = adjust(options.Vm) };
        var logger = loggers.CreateLogger<VmBackend>();
        return new VmBackend(Tool(options, logger), options.Vm, labels, logger);
    }

    public static VmInventory CreateInventory(SettingsSource settings, string baseDirectory, ILoggerFactory loggers)
    {
        var options = TartOptions.Load(settings, baseDirectory);
        return new VmInventory(Tool(options, loggers.CreateLogger<VmInventory>()), new VmRecordStore(options.Vm.StateDirectory));
    }

    private static TartTool Tool(TartOptions options, ILogger logger) =>
        new(new VmCli(Name, options.Vm.CliPath, options.Vm.CliPathVariable, logger), options);
}
