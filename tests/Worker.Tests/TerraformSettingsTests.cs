using System.Text.RegularExpressions;
using Worker.Composition;
using Worker.Core.Configuration;

namespace Worker.Tests;

/// <summary>
/// The settings an operator writes down (terraform/ and config.example.env) are the worker's own:
/// every key is one the worker knows, the keys a GCE + AMQP host needs are all set, values are valid,
/// and secrets only come from sensitive variables. One table (SettingsCatalog) decides, so they can't drift.
/// </summary>
public sealed partial class TerraformSettingsTests
{
    /// <summary>What a host of the instance group can't run without, and why (the broker URI comes from Secret Manager).</summary>
    private static readonly string[] KeysTheWorkerContainerNeeds =
    [
        "PROVIDER_NAME", // gce: a VM per job
        "QUEUE_TYPE", // amqp: the fleet shares one broker
        "QUEUE_NAME",
        "FLEET", // labels job VMs; the cleanup sidecar only touches its own fleet
        "HTTP_ADDR", // autohealing asks /healthz
        "MAX_LIFETIME", // hosts retire and are recreated from the current template: the rollout
        "STOP_WINDOW", // the drain on SIGTERM ends before docker stop kills the worker
        "SHUTDOWN_TIMEOUT",
        "IDLE_RETIRE", // scale-in: idle hosts leave the group
        "MIN_HOSTS",
        "GCE_LOAD_METRIC", // scale-out: the autoscaler reads it
        "GCE_PROJECT_ID",
        "GCE_ZONES",
    ];

    private static readonly string[] KeysTheCleanupSidecarNeeds = ["PROVIDER_NAME", "FLEET", "GCE_PROJECT_ID", "GCE_ZONES"];

    private static string KeyOf(string variable) =>
        variable.StartsWith(SettingsSource.TravisPrefix, StringComparison.Ordinal) ? variable[SettingsSource.TravisPrefix.Length..]
        : variable.StartsWith(SettingsSource.Prefix, StringComparison.Ordinal) ? variable[SettingsSource.Prefix.Length..]
        : throw new ArgumentException($"{variable} is not a WORKER_* variable", nameof(variable));

    [Theory]
    [InlineData("worker_env")]
    [InlineData("cleanup_env")]
    public async Task Every_key_terraform_gives_a_container_is_a_setting_the_worker_knows(string local)
    {
        var terraform = await TerraformConfiguration.LoadAsync();

        var unknown = terraform.Environment(local).Keys.Where(variable => SettingsCatalog.Find(KeyOf(variable)) is null).ToList();

        Assert.NotEmpty(terraform.Environment(local));
        Assert.True(unknown.Count == 0, $"terraform local.{local} sets keys the worker doesn't know: {string.Join(", ", unknown)}");
    }

    [Fact]
    public async Task Every_WORKER_key_in_the_host_template_and_example_tfvars_is_a_setting_the_worker_knows()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var template = await File.ReadAllTextAsync(Path.Combine(terraform.Folder, "cloud-init.yaml.tftpl"));
        var extraEnv = terraform.Files["example.tfvars"]!["extra_env"]!.AsObject().Select(pair => pair.Key);

        var keys = WorkerVariable().Matches(template).Select(m => m.Value).Concat(extraEnv).Distinct().ToList();
        var unknown = keys.Where(variable => SettingsCatalog.Find(KeyOf(variable)) is null).ToList();

        Assert.Contains("WORKER_HOSTNAME", keys);
        Assert.True(unknown.Count == 0, $"unknown keys: {string.Join(", ", unknown)}");
    }

    [Fact]
    public async Task The_worker_container_gets_every_key_a_gce_host_on_amqp_needs()
    {
        var env = (await TerraformConfiguration.LoadAsync()).Environment("worker_env");

        var missing = KeysTheWorkerContainerNeeds.Where(key => !env.ContainsKey(SettingsSource.Prefix + key)).ToList();

        Assert.True(missing.Count == 0, $"worker_env lacks {string.Join(", ", missing)}");
        Assert.Equal("gce", env["WORKER_PROVIDER_NAME"]);
        Assert.Equal("amqp", (await TerraformConfiguration.LoadAsync()).WithDefaults(env["WORKER_QUEUE_TYPE"]));
    }

    [Fact]
    public async Task The_operator_chooses_preemptible_or_Spot_job_VMs_through_terraform_variables()
    {
        var env = (await TerraformConfiguration.LoadAsync()).Environment("worker_env");

        Assert.Equal("${tostring(var.job_preemptible)}", env["WORKER_GCE_PREEMPTIBLE"]);
        Assert.Equal("${tostring(var.job_spot)}", env["WORKER_GCE_SPOT"]);
    }

    [Fact]
    public async Task The_cleanup_sidecar_gets_its_fleet_and_project_and_no_broker_credentials()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var cleanup = terraform.Environment("cleanup_env");
        var worker = terraform.Environment("worker_env");

        var missing = KeysTheCleanupSidecarNeeds.Where(key => !cleanup.ContainsKey(SettingsSource.Prefix + key)).ToList();

        Assert.True(missing.Count == 0, $"cleanup_env lacks {string.Join(", ", missing)}");
        // The sidecar must look at exactly the machines its workers make.
        foreach (var key in KeysTheCleanupSidecarNeeds)
        {
            Assert.Equal(worker[SettingsSource.Prefix + key], cleanup[SettingsSource.Prefix + key]);
        }
        Assert.DoesNotContain(cleanup.Keys, variable => SettingsCatalog.Find(KeyOf(variable))!.Secret);
    }

    [Theory]
    [InlineData("worker_env")]
    [InlineData("cleanup_env")]
    public async Task No_secret_setting_is_in_a_containers_env_file_where_instance_metadata_would_show_it(string local)
    {
        var terraform = await TerraformConfiguration.LoadAsync();

        var secrets = terraform.Environment(local).Keys.Where(variable => SettingsCatalog.Find(KeyOf(variable))!.Secret).ToList();

        Assert.True(secrets.Count == 0, $"local.{local} sets secrets {string.Join(", ", secrets)}; they belong in Secret Manager (secret_settings)");
    }

    [Fact]
    public async Task With_every_variable_at_its_default_each_value_is_valid_for_its_setting()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var checkedValues = 0;

        foreach (var (variable, value) in terraform.Environment("worker_env").Concat(terraform.Environment("cleanup_env")))
        {
            if (terraform.WithDefaults(value) is not { } text)
            {
                continue; // a required variable or a local: its value is only known at plan time
            }
            var setting = SettingsCatalog.Find(KeyOf(variable))!;
            var e = Record.Exception(() => setting.Effective(SettingsSource.From((variable, text))));
            Assert.True(e is null, $"{variable}={text} (from {value}): {e?.Message}");
            checkedValues++;
        }

        Assert.True(checkedValues >= 15, $"only {checkedValues} values could be checked");
    }

    [Fact]
    public async Task The_health_check_firewall_and_worker_agree_on_the_health_port()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var healthCheck = terraform.Resource("google_compute_health_check", "worker")["http_health_check"]![0]!;
        var firewall = terraform.Resource("google_compute_firewall", "health_check")["allow"]![0]!;
        var group = terraform.Resource("google_compute_region_instance_group_manager", "worker");

        Assert.Equal(":${var.http_port}", terraform.Environment("worker_env")["WORKER_HTTP_ADDR"]);
        Assert.Equal("${var.http_port}", TerraformConfiguration.Text(healthCheck["port"]));
        Assert.Equal("/healthz", TerraformConfiguration.Text(healthCheck["request_path"]));
        Assert.Equal("${tostring(var.http_port)}", TerraformConfiguration.Text(firewall["ports"]![0]));
        Assert.Equal("${google_compute_health_check.worker.id}", TerraformConfiguration.Text(group["auto_healing_policies"]![0]!["health_check"]));
    }

    [Fact]
    public void Every_key_in_config_example_env_is_a_setting_the_worker_knows_with_a_valid_default()
    {
        var lines = File.ReadAllLines(Path.Combine(TerraformConfiguration.RepositoryRoot, "config.example.env"))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToList();

        foreach (var line in lines)
        {
            var (variable, value) = (line[..line.IndexOf('=', StringComparison.Ordinal)], line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            var setting = SettingsCatalog.Find(KeyOf(variable));
            Assert.True(setting is not null, $"config.example.env has {variable}, which the worker doesn't know");
            var unquoted = value.StartsWith('"') ? value[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal) : value;
            var e = Record.Exception(() => setting.Effective(SettingsSource.From((variable, unquoted))));
            Assert.True(e is null, $"config.example.env: {line}: {e?.Message}");
        }
    }

    [Fact]
    public void Config_example_env_lists_every_setting_the_worker_knows()
    {
        var written = File.ReadAllLines(Path.Combine(TerraformConfiguration.RepositoryRoot, "config.example.env"))
            .Where(line => line.StartsWith(SettingsSource.Prefix, StringComparison.Ordinal))
            .Select(line => KeyOf(line[..line.IndexOf('=', StringComparison.Ordinal)]))
            .ToHashSet();

        var missing = SettingsCatalog.All.Select(s => s.Key).Where(key => !written.Contains(key)).ToList();

        Assert.True(missing.Count == 0,
            $"config.example.env lacks {string.Join(", ", missing)}; regenerate it: dotnet run --project src/Worker -- config --example > config.example.env");
    }

    [GeneratedRegex(@"\bWORKER_[A-Z0-9_]+")]
    private static partial Regex WorkerVariable();
}
