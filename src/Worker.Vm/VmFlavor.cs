using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Registration;

namespace Worker.Vm;

/// <summary>
/// One VM backend as the executable knows it (Tart, Vetu): its name and settings, and how its
/// options and its tool are made from them. The backend, the inventory and the registration are
/// built the same way for both from this.
/// </summary>
/// <param name="Load">Reads the settings (and <c>WORKER_BASE_DIR</c>) into the common options and a maker of the tool on a CLI.</param>
public sealed record VmFlavor(
    string Name,
    string SettingsTitle,
    IReadOnlyList<ISetting> Settings,
    Func<SettingsSource, string, (VmOptions Options, Func<VmCli, VmTool> Tool)> Load)
{
    /// <summary>The entry of the executable's list of backends.</summary>
    public BackendRegistration Registration => new()
    {
        Name = Name,
        SettingsTitle = SettingsTitle,
        Settings = Settings,
        CreateBackend = services => CreateBackend(services.Settings, services.Options.BaseDirectory, services.Labels, services.Loggers),
        CheckSettings = settings => Load(settings, WorkerOptions.Load(settings).BaseDirectory),
        // Records and locks under WORKER_BASE_DIR say which VMs this fleet made and whether a live worker holds them.
        CreateInventory = services => new CleanupInventory(CreateInventory(services.Settings, services.Options.BaseDirectory, services.Loggers), Hosts: null),
    };

    public VmBackend CreateBackend(SettingsSource settings, string baseDirectory, MachineLabels labels, ILoggerFactory loggers) =>
        CreateBackend(settings, baseDirectory, labels, loggers, vm => vm);

    /// <param name="adjust">Changes to what no setting reaches (tests: shorter standby retries).</param>
    internal VmBackend CreateBackend(SettingsSource settings, string baseDirectory, MachineLabels labels, ILoggerFactory loggers,
        Func<VmOptions, VmOptions> adjust)
    {
        var (options, tool) = Load(settings, baseDirectory);
        options = adjust(options);
        var logger = loggers.CreateLogger<VmBackend>();
        return new VmBackend(tool(Cli(options, logger)), options, labels, logger);
    }

    public VmInventory CreateInventory(SettingsSource settings, string baseDirectory, ILoggerFactory loggers)
    {
        var (options, tool) = Load(settings, baseDirectory);
        return new VmInventory(tool(Cli(options, loggers.CreateLogger<VmInventory>())), new VmRecordStore(options.StateDirectory));
    }

    private VmCli Cli(VmOptions options, ILogger logger) => new(Name, options.CliPath, options.CliPathVariable, logger);
}
