using Worker.Core.Backends.Fake;
using Worker.Core.Backends.Local;
using Worker.Core.Configuration;
using Worker.Core.Registration;
using Worker.Docker;
using Worker.Gce;
using Worker.Ssh.BareMetal;
using Worker.Vm.Tart;
using Worker.Vm.Vetu;

namespace Worker.Composition;

/// <summary>
/// Every backend this worker has, each declared by its own project. Run, exec, cleanup, the
/// settings catalog and the allowed values of <c>WORKER_PROVIDER_NAME</c> read this list; a new
/// backend is its folder plus one line here.
/// </summary>
public static class Backends
{
    public static IReadOnlyList<BackendRegistration> All { get; } =
    [
        LocalRegistration.Backend,
        FakeRegistration.Backend,
        DockerRegistration.Backend,
        GceRegistration.Backend,
        SshRegistration.Backend,
        TartRegistration.Backend,
        VetuRegistration.Backend,
    ];

    public static readonly Setting<string> ProviderName = Setting.OneOf("PROVIDER_NAME", LocalRegistration.Backend.Name,
            "Backend that boots a machine per job. Default docker, as travis-worker's, when the settings are in travis-worker's form (a TRAVIS_WORKER_ variable, or one of its settings by its bare name).",
            [.. All.Select(b => b.Name)])
        .DefaultingTo(settings => settings.InTravisForm ? DockerRegistration.Backend.Name : LocalRegistration.Backend.Name);

    /// <summary>The backends <c>worker cleanup</c> can work on: those with an inventory.</summary>
    public static IEnumerable<BackendRegistration> WithInventory => All.Where(b => b.CreateInventory is not null);

    /// <summary>The backend <c>WORKER_PROVIDER_NAME</c> names.</summary>
    public static BackendRegistration Configured(SettingsSource settings) =>
        Named(ProviderName.Read(settings), VariableOf(settings));

    /// <summary>The backend called <paramref name="name"/>; any other name stops with one line naming <paramref name="variable"/>.</summary>
    public static BackendRegistration Named(string name, string variable) =>
        All.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase)) ?? throw new InvalidSettingException(variable, name, ProviderName.Allowed);

    /// <summary>The configured backend, when <c>worker cleanup</c> can work on it.</summary>
    public static BackendRegistration ForCleanup(SettingsSource settings)
    {
        var backend = Configured(settings);
        return backend.CreateInventory is not null
            ? backend
            : throw new InvalidSettingException(VariableOf(settings), backend.Name,
                "a backend with an inventory for cleanup: " + string.Join(", ", WithInventory.Select(b => b.Name)));
    }

    private static string VariableOf(SettingsSource settings) =>
        settings.Find(ProviderName.Key)?.Variable ?? SettingsSource.Prefix + ProviderName.Key;
}
