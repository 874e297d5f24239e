using Worker.Core.Configuration;
using Worker.Core.Scripts;

namespace Worker.Composition;

/// <summary>
/// Every configuration key the worker knows, in sections. One table feeds start-up validation,
/// <c>worker config</c>, <c>config.example.env</c> and the Terraform check, so they can't drift.
/// Job sources and backends bring their sections through their registrations (<see cref="JobSources"/>, <see cref="Backends"/>).
/// </summary>
public static class SettingsCatalog
{
    public static IReadOnlyList<(string Section, IReadOnlyList<ISetting> Settings)> Sections { get; } =
    [
        ("Worker", [Backends.ProviderName, JobSources.QueueType, .. WorkerOptions.All]),
        ("travis-build script API (with WORKER_BUILD_API_URI), and the payload filter the script is made after", [.. BuildApiOptions.All, PayloadFilter.Executable]),
        ("Telemetry (OTLP itself: the standard OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and the log file", Worker.Telemetry.TelemetryOptions.All),
        ("Health and control server, self-retirement, travis-worker's heartbeat and hooks", [.. Worker.Http.HttpOptions.All, .. Worker.Http.RetirementOptions.All, .. Worker.Http.IdleRetirementOptions.All, .. Worker.Http.HeartbeatOptions.All, .. Worker.Hooks.LifecycleHookOptions.All]),
        .. JobSources.All.Where(s => s.Settings.Count > 0).Select(s => (s.SettingsTitle, s.Settings)),
        .. Backends.All.Select(b => (b.SettingsTitle, b.Settings)),
        ("Cirrus CI persistent worker (worker cirrus) and its tasks on the fleet", Worker.Cirrus.Agent.CirrusOptions.All),
        ("GCE host in a managed instance group (load metric for the autoscaler, the group it leaves when idle)", Worker.Gce.Hosting.GceHostOptions.All),
        ("Cleanup sidecar (worker cleanup)", Worker.Core.Cleanup.CleanupOptions.All),
    ];

    public static IEnumerable<ISetting> All => Sections.SelectMany(s => s.Settings);

    public static ISetting? Find(string key) => All.FirstOrDefault(s => s.Key == key);

    /// <summary>
    /// One line for each WORKER_ or TRAVIS_WORKER_ variable this worker does not read: a typo must
    /// not pass silently, and a travis-worker setting with no use here says why (also by its bare
    /// name; another bare name may be any program's, so it gets no word). A name a slip away from a
    /// setting's says which one it may have meant, also one an image-mapping prefix takes in
    /// (<c>DOCKER_IMAGE_DEFUALT</c>, read as the image of a language "defualt").
    /// </summary>
    public static IEnumerable<string> UnusedVariableWarnings(SettingsSource source)
    {
        foreach (var (variable, key, bare) in source.WorkerVariables())
        {
            if (Find(key) is not null)
            {
                continue;
            }
            var meant = bare ? null : NearestSettingName.Of(key, All.Select(s => s.Key)) is { } near ? variable[..^key.Length] + near : null;
            if (TravisOnlySettings.Reason(key) is { } reason)
            {
                yield return $"{variable} is ignored: {reason}";
            }
            else if (Backends.All.FirstOrDefault(b => b.KeyPrefixes.Any(prefix => key.StartsWith(prefix, StringComparison.Ordinal))) is { } backend)
            {
                if (meant is not null)
                {
                    yield return $"{variable} is read as one of the {backend.Name} backend's image mappings; did you mean {meant}?";
                }
            }
            else if (!bare)
            {
                yield return $"{variable} is not a setting this worker knows; it is ignored" + (meant is null ? "" : $" (did you mean {meant}?)");
            }
        }
    }

    /// <summary>Reads every key, so any bad value stops start-up with one line naming it.</summary>
    public static void Validate(SettingsSource source)
    {
        foreach (var setting in All)
        {
            setting.Effective(source);
        }
    }
}
