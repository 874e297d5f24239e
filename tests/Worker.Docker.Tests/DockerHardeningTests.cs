using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Configuration;

namespace Worker.Docker.Tests;

/// <summary>The process limit, dropped capabilities and no-new-privileges, as the real engine applies them.</summary>
[Trait("Category", "Integration")]
public sealed class DockerHardeningTests
{
    [Fact]
    public async Task By_default_a_job_container_is_limited_to_4096_processes_and_keeps_dockers_default_capabilities()
    {
        await using var harness = await DockerHarness.CreateAsync();
        var (job, container) = await harness.InspectWhileRunningAsync("before_script: [\"grep -E 'NoNewPrivs|CapEff' /proc/self/status\"]");

        Assert.Equal(4096, container.HostConfig!.PidsLimit);
        Assert.Empty(container.HostConfig!.CapDrop ?? []);
        Assert.DoesNotContain(container.HostConfig!.SecurityOpt ?? [], o => o.StartsWith("no-new-privileges", StringComparison.Ordinal));
        Assert.Matches(@"NoNewPrivs:\s+0", job.Log);
        Assert.DoesNotMatch(@"CapEff:\s+0+\n", job.Log);
    }

    [Fact]
    public async Task A_fork_bomb_stops_at_the_process_limit_and_the_job_still_ends()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with { MaxProcesses = 64 });
        var (job, _) = await harness.RunAsync("""
            script:
              - sh -c 'i=0; while [ $i -lt 500 ]; do sleep 300 & i=$((i+1)); done; echo all-$((250*2))-started'
            """);

        Assert.Equal("failed", await job.Outcome);
        Assert.Contains("Cannot fork", job.Log);
        Assert.DoesNotContain("all-500-started", job.Log);
    }

    [Fact]
    public async Task Dropped_capabilities_and_no_new_privileges_reach_the_container_and_hold_inside_it()
    {
        await using var harness = await DockerHarness.CreateAsync(o => o with
        {
            MaxProcesses = 256,
            DroppedCapabilities = [LinuxCapabilities.All],
            ForbidNewPrivileges = true,
            SecurityOptions = ["label=disable"],
        });
        var (job, container) = await harness.InspectWhileRunningAsync("before_script: [\"grep -E 'NoNewPrivs|CapEff' /proc/self/status\"]");

        Assert.Equal(256, container.HostConfig!.PidsLimit);
        Assert.Equal(["ALL"], container.HostConfig!.CapDrop);
        Assert.Equal(["label=disable", "no-new-privileges:true"], container.HostConfig!.SecurityOpt);
        Assert.Matches(@"NoNewPrivs:\s+1", job.Log);
        Assert.Matches(@"CapEff:\s+0+\n", job.Log);
    }

    [Fact]
    public void A_standby_made_under_other_hardening_is_not_taken_over()
    {
        var spec = new DockerPolicy(DockerHarness.DefaultOptions).Default;
        string Fingerprint(DockerOptions o) => new ContainerLauncher(null!, o, NullLogger.Instance).Fingerprint(spec);
        var plain = Fingerprint(DockerHarness.DefaultOptions);

        Assert.NotEqual(plain, Fingerprint(DockerHarness.DefaultOptions with { MaxProcesses = 100 }));
        Assert.NotEqual(plain, Fingerprint(DockerHarness.DefaultOptions with { DroppedCapabilities = ["NET_RAW"] }));
        Assert.NotEqual(plain, Fingerprint(DockerHarness.DefaultOptions with { ForbidNewPrivileges = true }));
    }

    [Fact]
    public void Capability_names_are_read_as_docker_takes_them_and_a_typo_stops_start_up()
    {
        var options = DockerOptions.Load(SettingsSource.From(("WORKER_DOCKER_CAP_DROP", "net_raw, CAP_MKNOD"), ("WORKER_DOCKER_PIDS_LIMIT", "0")));
        var typo = Assert.Throws<InvalidSettingException>(() => DockerOptions.Load(SettingsSource.From(("WORKER_DOCKER_CAP_DROP", "NET_RAWW"))));

        Assert.Equal(["NET_RAW", "MKNOD"], options.DroppedCapabilities);
        Assert.Equal(0, options.MaxProcesses);
        Assert.Equal("WORKER_DOCKER_CAP_DROP", typo.Variable);
        Assert.Equal(4096, DockerOptions.Load(SettingsSource.From()).MaxProcesses);
        Assert.False(DockerOptions.Load(SettingsSource.From()).ForbidNewPrivileges);
    }
}
