using Microsoft.Extensions.Logging;
using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Vm.Tart;

/// <summary>The Tart backend (<c>WORKER_PROVIDER_NAME=tart</c>): its backend and inventory built from <c>WORKER_TART_*</c>.</summary>
public static class TartRegistration
{
    public const string Name = "tart";

    public static VmBackend CreateBackend(SettingsSource settings, string baseDirectory, MachineLabels labels, ILoggerFactory loggers)
    {
        var options = TartOptions.Load(settings, baseDirectory);
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
