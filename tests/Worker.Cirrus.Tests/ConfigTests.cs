using Worker.Cirrus.Config;
using Worker.Cirrus.Tasks;

namespace Worker.Cirrus.Tests;

public class ConfigTests
{
    private static readonly CirrusFlags NoFlags = new();

    private static CirrusWorkerConfig Parse(string yaml, CirrusFlags? flags = null) =>
        CirrusConfigLoader.Parse(yaml, "worker.yml", flags ?? NoFlags, hostName: "builder-7.local");

    private static string ErrorOf(string yaml, CirrusFlags? flags = null) =>
        Assert.Throws<CirrusConfigException>(() => Parse(yaml, flags)).Message;

    [Fact]
    public void A_cirrus_cli_file_with_every_section_is_read_unchanged()
    {
        var config = Parse("""
            token: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            name: "MacMini-Rack-1-Slot-2"
            labels:
              connected-device: iphone-15
            resources:
              tart-vms: 2
              gpu: 0.5
            log:
              level: debug
              file: /var/log/cirrus-worker.log
              rotate-size: 100 MB
              max-rotations: 5
            rpc:
              endpoint: https://grpc.cirrus-ci.com:443
            security:
              allowed-isolations:
                none: {}
                container: {}
                tart:
                  allowed-images:
                    - "ghcr.io/cirruslabs/*"
                  allowed-volumes:
                    - source: "/Users/ci/cache/*"
                      force-readonly: true
                  force-softnet: true
                  softnet-allow:
                    - 10.0.0.0/16
                vetu:
                  allowed-images: ["ghcr.io/cirruslabs/ubuntu*"]
            tuning:
              vetu:
                mtu: 1400
            tart-pre-pull:
              check-interval: 3h
              jitter: 10m
              images:
                - ghcr.io/cirruslabs/macos-runner:sonoma
            standby:
              resources:
                tart-vms: 1
              isolation:
                tart:
                  image: ghcr.io/cirruslabs/macos-runner:sonoma
                  display: 1920x1080
                  softnet: true
                  cpu: 4
                  memory: 16384
              warmup:
                script: xcrun simctl list || true
                timeout: 10m
            resource-modifiers:
              - match:
                  gpu: 0.5
                append:
                  run: ["--device", "path=/sys/bus/pci/devices/0000:01:00.0/,iommu=on"]
            """);

        Assert.Equal("MacMini-Rack-1-Slot-2", config.Name);
        Assert.Equal("iphone-15", config.Labels["connected-device"]);
        Assert.Equal(0.5, config.Resources["gpu"]);
        Assert.Equal(2, config.Resources["tart-vms"]);
        Assert.Equal(new CirrusLogConfig("debug", "/var/log/cirrus-worker.log", 100_000_000, 5), config.Log);
        var upstream = Assert.Single(config.Upstreams);
        Assert.Equal(CirrusWorkerConfig.DefaultRpcEndpoint, upstream.Endpoint);
        Assert.StartsWith("e3b0c442", upstream.Token, StringComparison.Ordinal);

        var allowed = config.Security.AllowedIsolations!;
        Assert.Equal([IsolationKind.None, IsolationKind.Container, IsolationKind.Tart, IsolationKind.Vetu], allowed.Keys.Order());
        var tart = allowed[IsolationKind.Tart];
        Assert.Equal(["ghcr.io/cirruslabs/*"], tart.AllowedImages);
        Assert.Equal(new Security.AllowedVolume("/Users/ci/cache/*", true), Assert.Single(tart.AllowedVolumes));
        Assert.True(tart.ForceSoftnet);
        Assert.Equal(["10.0.0.0/16"], tart.SoftnetAllow);
        Assert.Null(config.Security.For(IsolationKind.Parallels));

        Assert.Equal(1400, config.VetuMtu);
        Assert.Equal(TimeSpan.FromHours(3), config.TartPrePull!.CheckInterval);
        Assert.Equal(TimeSpan.FromMinutes(10), config.TartPrePull.Jitter);
        Assert.Equal(["ghcr.io/cirruslabs/macos-runner:sonoma"], config.TartPrePull.Images);

        var standby = config.Standby!;
        Assert.Equal(1, standby.Resources["tart-vms"]);
        Assert.Equal("ghcr.io/cirruslabs/macos-runner:sonoma", standby.Isolation.Tart.Image);
        Assert.Equal("admin", standby.Isolation.Tart.User);
        Assert.Equal("admin", standby.Isolation.Tart.Password);
        Assert.Equal(16384u, standby.Isolation.Tart.Memory);
        Assert.Equal(4u, standby.Isolation.Tart.Cpu);
        Assert.True(standby.Isolation.Tart.Softnet);
        Assert.Equal("1920x1080", standby.Isolation.Tart.Display);
        Assert.Equal(600ul, standby.Warmup.TimeoutSeconds);
        Assert.Equal("xcrun simctl list || true", standby.Warmup.Script);

        var modifier = Assert.Single(config.ResourceModifiers);
        Assert.Equal(0.5, modifier.Match["gpu"]);
        Assert.Equal(["--device", "path=/sys/bus/pci/devices/0000:01:00.0/,iommu=on"], modifier.AppendRun);
        Assert.Empty(config.Warnings);
    }

    [Fact]
    public void An_unknown_key_is_an_error_naming_the_key_and_its_line()
    {
        var message = ErrorOf("""
            token: abc
            name: "mac-mini-1"

            resources:
              tart-vms: 2

            unknown-field: whatever
            """);

        Assert.StartsWith("worker.yml:7: unknown key 'unknown-field'", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("token: a\nsecurity:\n  allowed-isolations:\n    tart:\n      allowed-imagez: [x]\n", 5, "security.allowed-isolations.tart.allowed-imagez")]
    [InlineData("token: a\nrpc:\n  endpont: http://x\n", 3, "rpc.endpont")]
    [InlineData("token: a\nresource-modifiers:\n  - match: {gpu: 1}\n    append:\n      exec: [x]\n", 5, "resource-modifiers[0].append.exec")]
    [InlineData("token: a\nsecurity:\n  allowed-isolations:\n    vetu:\n      force-softnet: true\n", 5, "security.allowed-isolations.vetu.force-softnet")]
    public void An_unknown_nested_key_names_its_full_path_and_line(string yaml, int line, string key)
    {
        Assert.StartsWith($"worker.yml:{line}: unknown key '{key}'", ErrorOf(yaml), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("token: a\nresources:\n  cpu: lots\n", "worker.yml:3: 'resources.cpu' must be a number, got 'lots'")]
    [InlineData("token: a\nlog:\n  level: loud\n", "worker.yml:3: 'log.level' must be one of")]
    [InlineData("token: a\nlog:\n  rotate-size: huge\n", "worker.yml:3: 'log.rotate-size' must be a size")]
    [InlineData("token: a\ntart-pre-pull:\n  check-interval: often\n", "worker.yml:3: 'tart-pre-pull.check-interval' must be a duration")]
    [InlineData("token: a\nlabels: [a, b]\n", "worker.yml:2: 'labels' must be a mapping")]
    [InlineData("token: a\nstandby:\n  resources: {x: 1}\n", "worker.yml:3: 'standby.isolation' is required")]
    [InlineData("token: a\nstandby:\n  isolation:\n    container:\n      image: debian\n", "worker.yml:4: 'standby.isolation' must be exactly one of tart or vetu")]
    [InlineData("token: a\nstandby:\n  isolation:\n    tart:\n      memory: 16X\n", "worker.yml:5: 'standby.isolation.tart.memory' must be megabytes")]
    [InlineData("token: a\nname: x\nname: y\n", "worker.yml:3:")]
    [InlineData("token: a\nstandby:\n  isolation:\n    vetu:\n      networking:\n        bridged: {interface: br0}\n",
        "worker.yml:6: 'standby.isolation.vetu.networking' must be host: {}")]
    public void A_value_of_the_wrong_shape_is_an_error_naming_it_and_its_line(string yaml, string start)
    {
        Assert.StartsWith(start, ErrorOf(yaml), StringComparison.Ordinal);
    }

    /// <summary>
    /// cirrus-cli reads standby with its .cirrus.yml parser, which skips keys it doesn't know (its
    /// KnownFields check stops at standby): each is taken with a warning, and the standby is the one
    /// without it, so it still matches the tasks cirrus-cli's would. The lines ending " #" are the key's.
    /// </summary>
    [Theory]
    [InlineData("  isolation:\n    tart:\n      image: x\n      disk_size: 100 #\n", 6, "standby.isolation.tart.disk_size")]
    [InlineData("  isolation:\n    tart:\n      image: x\n      nested: true #\n", 6, "standby.isolation.tart.nested")]
    [InlineData("  isolation:\n    tart:\n      image: x\n      volumes:\n        - source: /srv/cache\n          size: 1 #\n", 8, "standby.isolation.tart.volumes[0].size")]
    [InlineData("  isolation:\n    vetu:\n      image: x\n      softnet: true #\n", 6, "standby.isolation.vetu.softnet")]
    [InlineData("  isolation:\n    vetu:\n      image: x\n      networking:\n        host: {}\n        bridged: {interface: br0} #\n", 8, "standby.isolation.vetu.networking.bridged")]
    [InlineData("  isolation:\n    tart:\n      image: x\n    kvm: {} #\n", 6, "standby.isolation.kvm")]
    [InlineData("  isolation:\n    tart:\n      image: x\n  warmup:\n    script: make warm\n    retries: 3 #\n", 8, "standby.warmup.retries")]
    [InlineData("  isolation:\n    tart:\n      image: x\n  count: 2 #\n", 6, "standby.count")]
    public void A_standby_key_cirrus_cli_ignores_is_taken_with_one_warning_naming_it(string standby, int line, string key)
    {
        var config = Parse("token: a\nstandby:\n" + standby);
        var without = Parse("token: a\nstandby:\n" + string.Join('\n', standby.Split('\n').Where(l => !l.EndsWith(" #", StringComparison.Ordinal))));

        Assert.Equal(without.Standby, config.Standby);
        Assert.Empty(without.Warnings);
        var warning = Assert.Single(config.Warnings);
        Assert.StartsWith($"worker.yml:{line}: '{key}' is ignored", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Flags_are_the_defaults_the_file_overrides_as_in_cirrus_cli()
    {
        var flags = new CirrusFlags
        {
            Name = "from-flag",
            Token = "flag-token",
            Labels = ["distro=debian,team=ci", "disk=ssd"],
            Resources = ["gpu=1.5"],
            RpcEndpoint = "http://127.0.0.1:9999",
        };

        var flagsOnly = CirrusConfigLoader.Load(null, flags);
        Assert.Equal("from-flag", flagsOnly.Name);
        Assert.Equal(new CirrusUpstream("flag-token", "http://127.0.0.1:9999"), Assert.Single(flagsOnly.Upstreams));
        Assert.Equal("debian", flagsOnly.Labels["distro"]);
        Assert.Equal("ssd", flagsOnly.Labels["disk"]);
        Assert.Equal(1.5, flagsOnly.Resources["gpu"]);

        var merged = Parse("""
            name: from-file
            labels:
              distro: ubuntu
            resources:
              tart-vms: 2
            rpc:
              endpoint: http://127.0.0.1:7777
            """, flags);
        Assert.Equal("from-file", merged.Name);
        Assert.Equal(new CirrusUpstream("flag-token", "http://127.0.0.1:7777"), Assert.Single(merged.Upstreams));
        Assert.Equal("ubuntu", merged.Labels["distro"]);
        Assert.Equal("ci", merged.Labels["team"]);
        Assert.Equal(1.5, merged.Resources["gpu"]);
        Assert.Equal(2, merged.Resources["tart-vms"]);
    }

    [Fact]
    public void The_default_name_is_the_host_name_without_lan_or_local()
    {
        Assert.Equal("builder-7", Parse("token: a").Name);
        Assert.Equal("mini", CirrusFlags.DefaultName("mini.local.lan"));
        Assert.Equal("ci.example.com", CirrusFlags.DefaultName("ci.example.com"));
    }

    [Theory]
    [InlineData("--resources gpu=many: the amount must be a number", "", "gpu=many")]
    [InlineData("--labels distro: expected key=value", "distro", "")]
    public void A_bad_flag_is_an_error_naming_the_flag(string expected, string label, string resource)
    {
        var flags = new CirrusFlags { Token = "t", Labels = label.Length > 0 ? [label] : [], Resources = resource.Length > 0 ? [resource] : [] };
        Assert.Equal(expected, Assert.Throws<CirrusConfigException>(() => CirrusConfigLoader.Load(null, flags)).Message);
    }

    [Fact]
    public void Upstreams_exclude_token_and_a_non_default_rpc_endpoint()
    {
        var config = Parse("""
            name: w
            upstreams:
              - token: one
                endpoint: http://127.0.0.1:1
              - token: two
            """);
        Assert.Equal([new CirrusUpstream("one", "http://127.0.0.1:1"), new CirrusUpstream("two", CirrusWorkerConfig.DefaultRpcEndpoint)], config.Upstreams);

        Assert.Contains("\"token:\" and \"endpoints:\" are mutually exclusive",
            ErrorOf("token: t\nupstreams:\n  - token: one\n"), StringComparison.Ordinal);
        Assert.Contains("\"rpc:\" and \"endpoints:\" are mutually exclusive",
            ErrorOf("rpc:\n  endpoint: http://x:1\nupstreams:\n  - token: one\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_without_a_token_does_not_start()
    {
        Assert.Contains("needs a registration token", ErrorOf("name: w\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void Without_allowed_isolations_everything_is_allowed_and_once_present_only_what_is_listed()
    {
        var open = Parse("token: a\nname: MacMini\n");
        Assert.Null(open.Security.AllowedIsolations);
        Assert.All(Enum.GetValues<IsolationKind>(), k => Assert.NotNull(open.Security.For(k)));

        var listed = Parse("token: a\nsecurity:\n  allowed-isolations:\n    none: {}\n    container: {}\n    tart:\n");
        Assert.NotNull(listed.Security.For(IsolationKind.None));
        Assert.NotNull(listed.Security.For(IsolationKind.Container));
        // "tart:" with no value is a nil policy in cirrus-cli: not allowed.
        Assert.Null(listed.Security.For(IsolationKind.Tart));
        Assert.Null(listed.Security.For(IsolationKind.Vetu));
    }

    [Fact]
    public void A_configured_label_may_replace_a_reserved_one_with_a_warning()
    {
        var config = Parse("token: a\nname: w\nlabels:\n  os: macos-sonoma\n  pool: fast\n");
        var labels = WorkerLabels.For(config, "host-1");

        Assert.Equal("macos-sonoma", labels["os"]);
        Assert.Equal("w", labels["name"]);
        Assert.Equal("host-1", labels["hostname"]);
        Assert.Equal(HostPlatform.Arch, labels["arch"]);
        Assert.False(string.IsNullOrEmpty(labels["version"]));
        Assert.Equal("fast", labels["pool"]);
        Assert.Contains(config.Warnings, w => w.Contains("'os'", StringComparison.Ordinal));
    }

    [Fact]
    public void Vetu_standby_reads_networking_and_disk_size_and_memory_below_100_is_gigabytes()
    {
        var config = Parse("""
            token: a
            standby:
              isolation:
                vetu:
                  image: ghcr.io/cirruslabs/ubuntu:latest
                  memory: 8
                  cpu: 2
                  disk_size: 50
                  networking:
                    host: {}
            """);
        var vetu = config.Standby!.Isolation.Vetu;
        Assert.Equal(8192u, vetu.Memory);
        Assert.Equal(50u, vetu.DiskSize);
        Assert.NotNull(vetu.Host);
        Assert.Equal("admin", vetu.User);
    }

    [Fact]
    public void An_empty_file_uses_the_flags()
    {
        var config = Parse("", new CirrusFlags { Token = "t", Name = "n" });
        Assert.Equal("n", config.Name);
        Assert.Null(config.Standby);
    }

    [Fact]
    public void Load_names_a_missing_file()
    {
        var message = Assert.Throws<CirrusConfigException>(() => CirrusConfigLoader.Load("/nonexistent/worker.yml", NoFlags)).Message;
        Assert.StartsWith("/nonexistent/worker.yml: can't read the worker file", message, StringComparison.Ordinal);
    }
}
