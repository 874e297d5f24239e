using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Worker.Composition;
using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Pipeline;
using Worker.Gce.Hosting;

namespace Worker.Tests;

/// <summary>
/// What terraform/ must get right for a fleet to run, roll out and scale without killing a job: zones
/// that exist, access to the job images, a worker unit that survives a failed pull, hosts cleanup can't
/// mistake for job VMs, a drain that fits GCE's stop window, opportunistic updates, secrets only by
/// name, and an autoscaler that only adds hosts on the load gauge the worker writes.
/// </summary>
public sealed partial class TerraformDeploymentTests
{
    private static string Text(JsonNode? value) => TerraformConfiguration.Text(value);

    private static async Task<string> TemplateAsync(TerraformConfiguration terraform) =>
        await File.ReadAllTextAsync(Path.Combine(terraform.Folder, "cloud-init.yaml.tftpl"));

    /// <summary>One systemd unit's text in the cloud-init template, from its path to the next file.</summary>
    private static string Unit(string template, string name)
    {
        var start = template.IndexOf($"path: /etc/systemd/system/{name}", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no {name} in the template");
        var end = template.IndexOf("  - path:", start + 1, StringComparison.Ordinal);
        return template[start..(end < 0 ? template.IndexOf("runcmd:", start, StringComparison.Ordinal) : end)];
    }

    [Fact]
    public async Task Job_zones_are_the_regions_zones_that_are_up_unless_a_variable_names_them()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var zones = terraform.Files["env.tf"]!["data"]!["google_compute_zones"]!["up"]![0]!;

        Assert.Equal("${var.region}", Text(zones["region"]));
        Assert.Equal("UP", Text(zones["status"]));
        Assert.Equal("${length(var.job_zones) > 0 ? var.job_zones : data.google_compute_zones.up.names}", Text(terraform.Local("job_zones")));
        Assert.Equal("${list(string)}", Text(terraform.Variables["job_zones"]["type"]));
        Assert.Equal("[]", Text(terraform.Variables["job_zones"]["default"]));
        foreach (var local in new[] { "worker_env", "cleanup_env" })
        {
            var env = terraform.Environment(local);
            Assert.Equal("${join(\",\", local.job_zones)}", env["WORKER_GCE_ZONES"]);
            Assert.False(env.ContainsKey("WORKER_GCE_ZONE"), $"local.{local} still names a single zone");
        }
    }

    [Fact]
    public async Task Job_images_in_another_project_get_the_hosts_image_user_there()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var grant = terraform.Resource("google_project_iam_member", "job_images");

        Assert.Equal("roles/compute.imageUser", Text(grant["role"]));
        Assert.Equal("${var.job_image_project_id}", Text(grant["project"]));
        Assert.Equal("serviceAccount:${google_service_account.worker.email}", Text(grant["member"]));
        Assert.Contains("var.job_image_project_id != \"\"", Text(grant["count"]));
        Assert.Contains("imageUser", await File.ReadAllTextAsync(Path.Combine(terraform.Folder, "README.md")));
    }

    [Fact]
    public async Task The_worker_unit_pulls_its_image_itself_and_systemd_retries_it_forever_but_a_retired_worker_stays_down()
    {
        var template = await TemplateAsync(await TerraformConfiguration.LoadAsync());
        var worker = Unit(template, "worker.service");
        var cleanup = Unit(template, "worker-cleanup.service");

        Assert.DoesNotContain("Requires=", template);
        Assert.DoesNotContain("Type=oneshot", template);
        foreach (var unit in new[] { worker, cleanup })
        {
            var pull = unit.IndexOf("ExecStartPre=/usr/bin/docker pull ${image}", StringComparison.Ordinal);
            Assert.True(pull >= 0 && pull < unit.IndexOf("ExecStart=", StringComparison.Ordinal), unit);
            Assert.Contains("Restart=always", unit);
            Assert.Matches(@"RestartSec=\d+", unit);
            Assert.Contains("StartLimitIntervalSec=0", unit);
        }
        Assert.Contains("RestartPreventExitStatus=0", worker);
    }

    [Fact]
    public async Task The_workers_base_dir_is_on_the_host_owned_by_the_images_uid_so_its_record_of_finished_jobs_outlives_the_container()
    {
        var worker = Unit(await TemplateAsync(await TerraformConfiguration.LoadAsync()), "worker.service");
        var dockerfile = await File.ReadAllTextAsync(Path.Combine(ExecCommandTests.RepoRoot(), "docker", "Dockerfile"));
        var uid = System.Text.RegularExpressions.Regex.Match(dockerfile, @"ARG WORKER_UID=(\d+)").Groups[1].Value;
        var baseDir = System.Text.RegularExpressions.Regex.Match(dockerfile, @"WORKER_BASE_DIR=(\S+)").Groups[1].Value;

        Assert.Equal("/var/lib/worker", baseDir);
        var run = worker.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("ExecStart=", StringComparison.Ordinal));
        Assert.Contains($"--volume /var/lib/worker:{baseDir} ", run);
        var chown = worker.IndexOf($"ExecStartPre=/bin/chown {uid}:{uid} /var/lib/worker", StringComparison.Ordinal);
        Assert.True(chown > worker.IndexOf("ExecStartPre=/bin/mkdir -p /var/lib/worker", StringComparison.Ordinal) && chown < worker.IndexOf("ExecStart=", StringComparison.Ordinal), worker);
    }

    [Fact]
    public async Task Hosts_carry_a_label_of_their_own_not_the_fleet_label_cleanup_deletes_by()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var labels = terraform.Resource("google_compute_instance_template", "worker")["labels"]!.AsObject();

        Assert.DoesNotContain(MachineLabels.Fleet, labels.Select(l => l.Key));
        Assert.Equal("${var.fleet_name}", Text(labels["worker-host-fleet"]));
    }

    [Fact]
    public async Task The_drain_fits_the_stop_window_docker_gives_for_every_allowed_window()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var env = terraform.Environment("worker_env");
        var template = await TemplateAsync(terraform);
        var grace = terraform.Variables["stop_grace_seconds"];

        Assert.Equal("${var.stop_grace_seconds}s", env["WORKER_STOP_WINDOW"]);
        Assert.Equal("${floor(var.stop_grace_seconds * 45 / 100)}s", env["WORKER_SHUTDOWN_TIMEOUT"]);
        Assert.Contains("ExecStop=/usr/bin/docker stop --time ${stop_grace_seconds} worker", Unit(template, "worker.service"));
        Assert.Contains("TimeoutStopSec=${stop_grace_seconds + 10}", Unit(template, "worker.service"));
        Assert.Contains("var.stop_grace_seconds >= 10 && var.stop_grace_seconds <= 80", Text(grace["validation"]![0]!["condition"]));
        Assert.Equal(75, grace["default"]!.GetValue<int>());
        // systemd's stop (docker's window plus 10 s) fits GCE's ~90 s, and the worker's drain fits docker's window.
        for (var seconds = 10; seconds <= 80; seconds++)
        {
            var budget = ShutdownBudget.For(new WorkerOptions
            {
                StopWindow = TimeSpan.FromSeconds(seconds),
                Shutdown = TimeSpan.FromSeconds(seconds * 45 / 100),
            });
            Assert.True(budget.Warning is null, $"stop_grace_seconds={seconds}: {budget.Warning}");
            Assert.True(seconds + 10 <= 90);
        }
    }

    [Fact]
    public async Task Rollouts_and_repairs_never_delete_a_busy_host()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var group = terraform.Resource("google_compute_region_instance_group_manager", "worker");
        var update = group["update_policy"]![0]!;

        Assert.Equal("OPPORTUNISTIC", Text(update["type"]));
        Assert.Equal("NONE", Text(update["instance_redistribution_type"]));
        Assert.Equal("YES", Text(group["instance_lifecycle_policy"]![0]!["force_update_on_repair"]));
        Assert.Null(group["target_size"]); // the autoscaler's, lowered by hosts that leave
        Assert.False(terraform.Variables["host_image"].ContainsKey("default"), "the COS image is pinned by the operator");
        Assert.Null(terraform.Files["main.tf"]!["data"]); // no image family looked up on every apply
        Assert.Contains("replaces the whole group", Text(terraform.Variables["host_zones"]["description"]));
        Assert.Contains("MAX_LIFETIME", Text(terraform.Variables["max_lifetime"]["description"]));
    }

    [Fact]
    public async Task The_queue_type_picks_rabbitmq_or_job_board_and_the_plan_stops_when_its_credentials_are_not_listed()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var env = terraform.Environment("worker_env");
        var checks = terraform.Resource("google_compute_instance_template", "worker")["lifecycle"]![0]!["precondition"]!.AsArray()
            .Select(p => (Condition: Text(p!["condition"]), Message: Text(p!["error_message"]))).ToList();
        var queueType = Text(terraform.Variables["queue_type"]["validation"]![0]!["condition"]);

        Assert.Equal("${var.queue_type}", env["WORKER_QUEUE_TYPE"]);
        Assert.Equal("${var.travis_site}", env["WORKER_TRAVIS_SITE"]);
        Assert.Contains("[\"amqp\", \"http\"]", queueType, StringComparison.Ordinal);
        Assert.Contains(checks, c => c.Condition.Contains("\"amqp\"", StringComparison.Ordinal) && c.Condition.Contains("\"WORKER_AMQP_URI\"", StringComparison.Ordinal));
        Assert.Contains(checks, c => c.Condition.Contains("\"http\"", StringComparison.Ordinal) && c.Condition.Contains("\"WORKER_JOB_BOARD_URL\"", StringComparison.Ordinal));
        Assert.Contains(checks, c => c.Condition.Contains("\"http\"", StringComparison.Ordinal) && c.Condition.Contains("var.travis_site", StringComparison.Ordinal));
        // A travis site is only sent when set: empty reads as not set.
        Assert.Null(Worker.Core.Configuration.WorkerOptions.TravisSite.Read(Worker.Core.Configuration.SettingsSource.From(("WORKER_TRAVIS_SITE", ""))));
    }

    [Fact]
    public async Task Each_secret_lives_in_secret_manager_the_hosts_read_only_those_and_terraform_only_knows_names()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var variables = terraform.Variables;
        var secret = terraform.Resource("google_secret_manager_secret", "worker");
        var access = terraform.Resource("google_secret_manager_secret_iam_member", "worker");
        var allowed = SettingNames().Matches(Text(variables["secret_settings"]["validation"]![0]!["condition"])).Select(m => m.Value).Distinct().ToList();

        // No variable carries a secret's value, so neither plans nor state hold one.
        Assert.DoesNotContain(variables, v => v.Value["sensitive"]?.GetValue<bool>() == true);
        Assert.DoesNotContain(new[] { "amqp_uri", "logs_amqp_uri", "http_auth_token", "build_api_uri" }, name => variables.ContainsKey(name));
        Assert.DoesNotContain(terraform.Files, file => file.Value?["resource"]?["google_secret_manager_secret_version"] is not null);
        Assert.Equal(["WORKER_AMQP_URI"], variables["secret_settings"]["default"]!.AsArray().Select(k => Text(k)));
        Assert.Equal(6, allowed.Count);
        Assert.All(allowed, key => Assert.True(SettingsCatalog.Find(key["WORKER_".Length..])!.Secret, $"{key} is not a secret setting"));
        // Beside the worker's own: the OTLP collector's headers, which carry its credentials.
        Assert.Contains("\"OTEL_EXPORTER_OTLP_HEADERS\"", Text(variables["secret_settings"]["validation"]![0]!["condition"]));

        Assert.Equal("${local.secret_ids}", Text(secret["for_each"]));
        Assert.Equal("${google_secret_manager_secret.worker}", Text(access["for_each"]));
        Assert.Equal("${each.value.id}", Text(access["secret_id"]));
        Assert.Equal("roles/secretmanager.secretAccessor", Text(access["role"]));
        var projectRoles = terraform.Files.SelectMany(f => f.Value?["resource"]?["google_project_iam_member"]?.AsObject() ?? [])
            .Select(r => Text(r.Value![0]!["role"]) + Text(r.Value![0]!["for_each"])).ToList();
        Assert.DoesNotContain(projectRoles, role => role.Contains("secretmanager", StringComparison.Ordinal));

        var metadata = Text(terraform.Resource("google_compute_instance_template", "worker")["metadata"]!["user-data"]);
        Assert.Matches(@"secrets_list\s*=\s*local\.secrets_list", metadata);
        Assert.Equal("${join(\"\\n\", [for key, secret in google_secret_manager_secret.worker : \"${key}=${secret.id}\"])}", Text(terraform.Local("secrets_list")));
        var worker = Unit(await TemplateAsync(terraform), "worker.service");
        var fetch = worker.IndexOf("ExecStartPre=/bin/bash /etc/worker/fetch-secrets.sh /etc/worker/secrets.list /run/worker/secrets.env", StringComparison.Ordinal);
        Assert.True(fetch >= 0 && fetch < worker.IndexOf("ExecStart=", StringComparison.Ordinal), worker);
        Assert.Contains("--env-file /run/worker/secrets.env", worker);
    }

    [Fact]
    public async Task The_autoscaler_only_adds_hosts_within_min_and_max_on_the_load_gauge_the_worker_writes()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var autoscaler = terraform.Resource("google_compute_region_autoscaler", "worker");
        var policy = autoscaler["autoscaling_policy"]![0]!;
        var metric = policy["metric"]![0]!;
        var env = terraform.Environment("worker_env");

        Assert.Equal("${google_compute_region_instance_group_manager.worker.id}", Text(autoscaler["target"]));
        Assert.Equal("${var.region}", Text(autoscaler["region"]));
        Assert.Equal("ONLY_SCALE_OUT", Text(policy["mode"]));
        Assert.Equal("${var.min_hosts}", Text(policy["min_replicas"]));
        Assert.Equal("${var.max_hosts}", Text(policy["max_replicas"]));
        Assert.Equal("${var.autoscaling_cooldown_sec}", Text(policy["cooldown_period"]));
        Assert.Equal("GAUGE", Text(metric["type"]));
        Assert.Equal("${var.autoscaling_target}", Text(metric["target"]));
        Assert.Contains("resource.type = \"gce_instance\"", Text(metric["filter"]));
        Assert.Contains("metric.labels.fleet = \"${var.fleet_name}\"", Text(metric["filter"]));
        // The worker writes the very metric the autoscaler reads, and the metric is one the worker takes.
        Assert.Equal("${local.load_metric}", Text(metric["name"]));
        Assert.Equal("${local.load_metric}", env["WORKER_GCE_LOAD_METRIC"]);
        var loadMetric = Text(terraform.Local("load_metric"));
        Assert.Equal(loadMetric, GceHostOptions.LoadMetric.Effective(SettingsSource.From(("WORKER_GCE_LOAD_METRIC", loadMetric))));
        // Scale-in is the hosts' own, with the same floor.
        Assert.Equal("${tostring(var.min_hosts)}", env["WORKER_MIN_HOSTS"]);
        Assert.Equal("${var.idle_retire}", env["WORKER_IDLE_RETIRE"]);
        foreach (var name in new[] { "min_hosts", "max_hosts", "autoscaling_target", "autoscaling_cooldown_sec", "idle_retire" })
        {
            Assert.True(terraform.Variables[name].ContainsKey("default"), $"var.{name} has no default");
        }
        Assert.True(terraform.Variables["min_hosts"]["default"]!.GetValue<int>() <= terraform.Variables["max_hosts"]["default"]!.GetValue<int>());
        Assert.Equal("15m", Worker.Http.IdleRetirementOptions.IdleRetire.Effective(SettingsSource.From(("WORKER_IDLE_RETIRE", Text(terraform.Variables["idle_retire"]["default"])))));
        var permissions = terraform.Local("worker_permissions").AsArray().Select(p => Text(p)).ToList();
        Assert.Contains("compute.instanceGroupManagers.get", permissions);
        Assert.Contains("compute.instanceGroupManagers.update", permissions); // deleteInstances
        Assert.Contains("roles/monitoring.metricWriter", Text(terraform.Resource("google_project_iam_member", "host")["for_each"]));
    }

    [Fact]
    public async Task Extra_env_takes_travis_worker_keys_as_the_worker_does()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var condition = Text(terraform.Variables["extra_env"]["validation"]![0]!["condition"]);
        var pattern = new Regex(QuotedRegex().Match(condition).Groups["pattern"].Value.Replace("\\\\", "\\", StringComparison.Ordinal));

        Assert.Matches(pattern, "WORKER_LOG_TIMEOUT");
        Assert.Matches(pattern, "TRAVIS_WORKER_GCE_UPLOAD_RETRIES");
        Assert.DoesNotMatch(pattern, "AMQP_URI");
        Assert.DoesNotMatch(pattern, "TRAVIS_AMQP_URI");
        Assert.Contains(terraform.Files["example.tfvars"]!["extra_env"]!.AsObject(), pair => pair.Key.StartsWith("TRAVIS_WORKER_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Telemetry_settings_reach_the_worker_container_and_its_credentials_only_through_secret_manager()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var env = terraform.Environment("worker_env");

        Assert.Equal("${var.honeycomb_dataset}", env["WORKER_HONEYCOMB_DATASET"]);
        Assert.Equal("${tostring(var.trace_sample_rate)}", env["WORKER_TRACE_SAMPLE_RATE"]);
        Assert.Equal("worker", Text(terraform.Variables["honeycomb_dataset"]["default"]));
        Assert.Equal(1, terraform.Variables["trace_sample_rate"]["default"]!.GetValue<int>());
        // OTEL_* go into the same env file, under the operator's extra_env.
        Assert.Contains("merge(local.worker_env, var.otel_env, var.extra_env)", Text(terraform.Local("worker_env_file")));
        var condition = Text(terraform.Variables["otel_env"]["validation"]![0]!["condition"]);
        var patterns = QuotedRegex().Matches(condition).Select(m => new Regex(m.Groups["pattern"].Value.Replace("\\\\", "\\", StringComparison.Ordinal))).ToList();
        Assert.Equal(2, patterns.Count); // the key's form, and the headers it refuses
        Assert.Matches(patterns[0], "OTEL_EXPORTER_OTLP_ENDPOINT");
        Assert.DoesNotMatch(patterns[0], "WORKER_HONEYCOMB_API_KEY");
        Assert.Matches(patterns[1], "OTEL_EXPORTER_OTLP_HEADERS");
        Assert.Matches(patterns[1], "OTEL_EXPORTER_OTLP_TRACES_HEADERS");
        Assert.DoesNotMatch(patterns[1], "OTEL_SERVICE_NAME");
        var example = terraform.Files["example.tfvars"]!;
        Assert.All(example["otel_env"]!.AsObject(), pair => Assert.True(patterns[0].IsMatch(pair.Key) && !patterns[1].IsMatch(pair.Key), pair.Key));
        Assert.Contains("WORKER_HONEYCOMB_API_KEY", example["secret_settings"]!.AsArray().Select(k => Text(k)));
    }

    [GeneratedRegex(@"WORKER_[A-Z_]+")]
    private static partial Regex SettingNames();

    [GeneratedRegex("regex\\(\"(?<pattern>[^\"]+)\"")]
    private static partial Regex QuotedRegex();
}
