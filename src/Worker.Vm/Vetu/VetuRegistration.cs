using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Vm.Vetu;

/// <summary>The Vetu backend (<c>WORKER_PROVIDER_NAME=vetu</c>): its backend and inventory built from <c>WORKER_VETU_*</c>.</summary>
public static class VetuRegistration
{
    public const string Name = "vetu";

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
