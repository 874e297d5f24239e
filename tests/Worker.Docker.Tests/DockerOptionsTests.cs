using Worker.Core.Backends;
using Worker.Core.Configuration;

namespace Worker.Docker.Tests;

public sealed class DockerOptionsTests
{
    [Fact]
    public void The_docker_clis_own_cert_path_counts_for_a_tcp_engine_as_the_cli_takes_it_and_not_beside_a_local_socket()
    {
        var certs = Directory.CreateTempSubdirectory("docker-certs-").FullName;
        try
        {
            foreach (var file in new[] { "ca.pem", "cert.pem", "key.pem" })
            {
                File.WriteAllText(Path.Combine(certs, file), "");
            }

            Assert.Equal(certs, DockerOptions.Load(SettingsSource.From(("DOCKER_HOST", "tcp://10.0.0.5:2376"), ("DOCKER_CERT_PATH", certs))).TlsDirectory);
            Assert.Null(DockerOptions.Load(SettingsSource.From(("DOCKER_CERT_PATH", certs))).TlsDirectory);
            Assert.Throws<InvalidSettingException>(() => DockerOptions.Load(SettingsSource.From(("WORKER_DOCKER_CERT_PATH", certs))));
        }
        finally
        {
            Directory.Delete(certs, recursive: true);
        }
    }

    [Theory]
    [InlineData("0", 64L << 20)]
    [InlineData("128m", 128_000_000)]
    [InlineData("128MiB", 128L << 20)]
    public void Travis_workers_shm_of_0_is_dockers_default_and_its_sizes_read_as_travis_worker_read_them(string shm, long bytes) =>
        Assert.Equal(bytes, DockerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_DOCKER_SHM", shm))).ShmBytes);

    [Theory]
    [InlineData("TRAVIS_WORKER_DOCKER_MEMORY", "4G", 4_000_000_000)]
    [InlineData("TRAVIS_WORKER_DOCKER_MEMORY", "4 gb", 4_000_000_000)]
    [InlineData("TRAVIS_WORKER_DOCKER_MEMORY", "4GiB", 4L << 30)]
    [InlineData("DOCKER_MEMORY", "1,500M", 1_500_000_000)]
    [InlineData("DOCKER_MEMORY", "2Gi", 2L << 30)]
    [InlineData("WORKER_DOCKER_MEMORY", "4G", 4L << 30)]
    [InlineData("WORKER_DOCKER_MEMORY", "4g", 4L << 30)]
    public void Memory_by_travis_workers_names_is_in_its_units_where_G_is_10_to_the_9_and_by_this_workers_name_in_dockers(
        string variable, string value, long bytes) =>
        Assert.Equal(bytes, DockerOptions.Load(SettingsSource.From((variable, value))).MemoryPerJob);

    [Fact]
    public void The_passwords_of_proxy_urls_are_what_a_jobs_log_masks_as_written_and_decoded()
    {
        var options = DockerOptions.Load(SettingsSource.From(
            ("WORKER_DOCKER_HTTP_PROXY", "http://ci:p%40ss@proxy.internal:3128"), ("WORKER_DOCKER_HTTPS_PROXY", "http://ci:p%40ss@proxy.internal:3128"),
            ("DOCKER_FTP_PROXY", "http://anonymous@proxy.internal:21"), ("DOCKER_NO_PROXY", "user:not-a-password@example.com")));
        // travis-worker's names are URL-unescaped as it read them: the container gets p@ss.
        var travis = DockerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_DOCKER_HTTPS_PROXY", "http://ci:p%40ss@proxy.internal:3128")));

        Assert.Equal(["p%40ss", "p@ss"], options.ProxyPasswords);
        Assert.Equal(["p@ss"], travis.ProxyPasswords);
        Assert.Contains("HTTPS_PROXY=http://ci:p@ss@proxy.internal:3128", travis.ProxyEnvironment);
    }

    [Fact]
    public void A_size_travis_worker_could_not_read_either_stops_start_up_naming_the_variable()
    {
        var error = Assert.Throws<InvalidSettingException>(() => DockerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_DOCKER_MEMORY", "4 gigs"))));
        Assert.Contains("TRAVIS_WORKER_DOCKER_MEMORY", error.Message);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("TRAVIS_WORKER_DOCKER_CPU_SET_SIZE=0", 0)]
    [InlineData("WORKER_DOCKER_CPU_SET_SIZE=6", 6)]
    [InlineData("DOCKER_CPU_SET_SIZE=12", 12)]
    public void The_cpu_set_is_the_engines_cpus_unless_set_and_0_pins_nothing(string? variable, int? size)
    {
        var settings = variable is null ? SettingsSource.From() : SettingsSource.From((variable.Split('=')[0], variable.Split('=')[1]));

        Assert.Equal(size, DockerOptions.Load(settings).CpusToPinWithin);
    }

    [Fact]
    public void A_cpu_set_size_that_is_not_a_whole_number_stops_start_up_naming_it()
    {
        var e = Assert.Throws<InvalidSettingException>(() => DockerOptions.Load(SettingsSource.From(("WORKER_DOCKER_CPU_SET_SIZE", "-1"))));

        Assert.Contains("WORKER_DOCKER_CPU_SET_SIZE", e.Message);
    }

    [Fact]
    public void Defaults_are_secure_the_local_socket_two_cpus_four_gigabytes_and_no_standby()
    {
        var options = DockerOptions.Load(SettingsSource.From());

        Assert.Equal(new Uri("unix:///var/run/docker.sock"), options.EndpointUri);
        Assert.Equal(2, options.CpusPerJob);
        Assert.Equal(4L << 30, options.MemoryPerJob);
        Assert.Equal(PrivilegedContainers.Never, options.Privileges);
        Assert.Empty(options.VolumeRules);
        Assert.Empty(options.OperatorVolumes);
        Assert.Equal(0, options.StandbyCount);
    }

    [Fact]
    public void The_main_process_is_the_jobs_runner_in_the_workers_naming_and_travis_workers_sbin_init_in_its_form()
    {
        Assert.Empty(DockerOptions.Load(SettingsSource.From()).MainCommand);
        Assert.Equal("", DockerOptions.Command.DefaultText);

        var travis = DockerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_POOL_SIZE", "4")));
        Assert.Equal(["/sbin/init"], travis.MainCommand);
        Assert.Null(travis.MainCommandVariable); // travis-worker's default, named as such when an image lacks it
        Assert.Equal(["/sbin/init"], DockerOptions.Load(SettingsSource.From(("POOL_SIZE", "4"))).MainCommand);
    }

    [Fact]
    public void Scripts_run_on_a_terminal_in_travis_workers_form_as_they_did_and_not_by_default_in_the_workers()
    {
        Assert.False(DockerOptions.Load(SettingsSource.From()).ScriptOnTerminal);
        Assert.True(DockerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_POOL_SIZE", "4"))).ScriptOnTerminal);
        Assert.False(DockerOptions.Load(SettingsSource.From(("POOL_SIZE", "4"), ("DOCKER_TTY", "false"))).ScriptOnTerminal);
        Assert.True(DockerOptions.Load(SettingsSource.From(("WORKER_DOCKER_TTY", "true"))).ScriptOnTerminal);
    }

    [Fact]
    public void In_travis_workers_form_every_container_gets_its_tmpfs_on_run_unless_its_tmpfs_map_says_otherwise()
    {
        Assert.Empty(DockerOptions.Load(SettingsSource.From()).TmpfsMounts);
        Assert.Equal(["/run:rw;nosuid;nodev;exec;noatime;size=65536k"], DockerOptions.Load(SettingsSource.From(("TRAVIS_WORKER_POOL_SIZE", "4"))).TmpfsMounts);
        Assert.Equal(["/tmp:rw"], DockerOptions.Load(SettingsSource.From(("POOL_SIZE", "4"), ("DOCKER_TMPFS_MAP", "/tmp:rw"))).TmpfsMounts);
        Assert.Equal(["/run:rw;size=1m"], DockerOptions.Load(SettingsSource.From(("POOL_SIZE", "4"), ("WORKER_DOCKER_TMPFS", "/run:rw;size=1m"))).TmpfsMounts);
    }

    [Fact]
    public void A_path_named_by_both_tmpfs_settings_is_mounted_once_as_the_workers_own_setting_says()
    {
        var options = DockerOptions.Load(SettingsSource.From(("WORKER_DOCKER_TMPFS", "/cache:rw;size=1m"), ("DOCKER_TMPFS_MAP", "/cache/:rw,size=2m+/run:rw")));

        Assert.Equal(["/cache:rw;size=1m", "/run:rw"], options.TmpfsMounts);
    }

    [Theory]
    [InlineData("WORKER_DOCKER_CMD", "/lib/systemd/systemd --log-target=console", new[] { "/lib/systemd/systemd", "--log-target=console" })]
    [InlineData("TRAVIS_WORKER_DOCKER_CMD", "/sbin/my-init  --quiet", new[] { "/sbin/my-init", "--quiet" })]
    [InlineData("DOCKER_CMD", "/usr/bin/dumb-init+sleep+infinity", new[] { "/usr/bin/dumb-init", "sleep", "infinity" })]
    [InlineData("TRAVIS_WORKER_DOCKER_CMD", "none", new string[0])]
    public void The_main_process_is_read_in_every_naming_and_none_keeps_the_runner(string variable, string value, string[] command)
    {
        var options = DockerOptions.Load(SettingsSource.From((variable, value), ("TRAVIS_WORKER_POOL_SIZE", "4")));

        Assert.Equal(command, options.MainCommand);
        Assert.Equal(variable, options.MainCommandVariable);
    }

    [Fact]
    public void The_endpoint_comes_from_WORKER_DOCKER_ENDPOINT_then_DOCKER_HOST()
    {
        Assert.Equal(new Uri("tcp://127.0.0.1:2375"), DockerOptions.Load(SettingsSource.From(("DOCKER_HOST", "tcp://127.0.0.1:2375"))).EndpointUri);
        Assert.Equal(new Uri("unix:///run/other.sock"), DockerOptions.Load(SettingsSource.From(
            ("DOCKER_HOST", "tcp://127.0.0.1:2375"), ("WORKER_DOCKER_ENDPOINT", "unix:///run/other.sock"))).EndpointUri);
    }

    [Fact]
    public void Every_key_is_read_also_with_the_travis_prefix()
    {
        var options = DockerOptions.Load(SettingsSource.From(
            ("TRAVIS_WORKER_DOCKER_CPUS", "1.5"), ("TRAVIS_WORKER_DOCKER_MEMORY", "512m"), ("WORKER_DOCKER_STANDBY", "2"),
            ("WORKER_ALLOWED_IMAGES", "ghcr.io/acme/*, debian:*"), ("WORKER_ALLOWED_VOLUMES", "/srv/*:ro"),
            ("WORKER_DOCKER_MAX_CPUS", "4"), ("WORKER_DOCKER_MAX_MEMORY", "8g"), ("WORKER_DOCKER_TMPFS", "/run:rw;size=64m")));

        Assert.Equal(1.5, options.CpusPerJob);
        Assert.Equal(512_000_000, options.MemoryPerJob); // travis-worker's 512m: go-humanize's M is 10^6
        Assert.Equal(2, options.StandbyCount);
        Assert.Equal(["ghcr.io/acme/*", "debian:*"], options.ImageGlobs);
        Assert.Equal(["/srv/*:ro"], options.VolumeRules);
        Assert.Equal(4, options.CpuCeiling);
        Assert.Equal(8L << 30, options.MemoryCeiling);
        Assert.Equal(["/run:rw;size=64m"], options.TmpfsMounts);
    }

    [Fact]
    public void Travis_workers_docker_keys_and_formats_are_read_too()
    {
        var options = DockerOptions.Load(SettingsSource.From(
            ("TRAVIS_WORKER_DOCKER_HOST", "tcp://10.0.0.5:2375"), ("TRAVIS_WORKER_DOCKER_SHM", "128MiB"),
            ("TRAVIS_WORKER_DOCKER_BINDS", "/srv/cache:/cache /etc/ssl/certs:/etc/ssl/certs:ro"),
            ("TRAVIS_WORKER_DOCKER_TMPFS_MAP", "/run:rw,nosuid,size=65536k+/run/lock:rw,exec"),
            ("TRAVIS_WORKER_DOCKER_SECURITY_OPT", "seccomp=unconfined no-new-privileges"),
            ("TRAVIS_WORKER_DOCKER_CONTAINER_LABELS", "team:ci, cost:batch")));

        Assert.Equal(new Uri("tcp://10.0.0.5:2375"), options.EndpointUri);
        Assert.Equal(128L << 20, options.ShmBytes);
        Assert.Equal(["/srv/cache:/cache", "/etc/ssl/certs:/etc/ssl/certs:ro"], options.OperatorVolumes);
        Assert.Equal(["/run:rw;nosuid;size=65536k", "/run/lock:rw;exec"], options.TmpfsMounts);
        Assert.Equal(["seccomp=unconfined", "no-new-privileges"], options.SecurityOptions);
        Assert.Equal(new Dictionary<string, string> { ["team"] = "ci", ["cost"] = "batch" }, options.ExtraLabels);
    }

    [Fact]
    public void The_operators_binds_take_the_engines_other_options_as_travis_worker_passed_them_on()
    {
        var options = DockerOptions.Load(SettingsSource.From(
            ("TRAVIS_WORKER_DOCKER_BINDS", "/srv/cache:/cache:z /srv/src:/src:ro,Z,rslave /srv/m:/m:cached gems:/gems:nocopy"),
            ("WORKER_DOCKER_VOLUMES", "/srv/data:/data:ro;z")));

        Assert.Equal(["/srv/data:/data:ro;z", "/srv/cache:/cache:z", "/srv/src:/src:ro,Z,rslave", "/srv/m:/m:cached", "gems:/gems:nocopy"], options.OperatorVolumes);
        Assert.True(VolumeRequest.TryParseOperatorBind("/srv/src:/src:ro,Z,rslave", out var bind));
        Assert.Equal("/srv/src:/src:ro,Z,rslave", bind.ToBind());
        Assert.True(VolumeRequest.TryParseOperatorBind("/srv/data:/data:ro;z", out var listed));
        Assert.Equal("/srv/data:/data:ro,z", listed.ToBind());
        Assert.False(VolumeRequest.TryParse("/srv/cache:/cache:z", out _)); // a job's volume still takes ro or rw only
    }

    [Fact]
    public void The_workers_own_names_win_over_travis_workers()
    {
        var options = DockerOptions.Load(SettingsSource.From(
            ("WORKER_DOCKER_ENDPOINT", "unix:///run/docker.sock"), ("TRAVIS_WORKER_DOCKER_HOST", "tcp://10.0.0.5:2375"),
            ("WORKER_DOCKER_SHM_SIZE", "32m"), ("TRAVIS_WORKER_DOCKER_SHM", "128m")));

        Assert.Equal(new Uri("unix:///run/docker.sock"), options.EndpointUri);
        Assert.Equal(32L << 20, options.ShmBytes);
    }

    [Theory]
    [InlineData("WORKER_DOCKER_CPUS", "lots")]
    [InlineData("WORKER_DOCKER_MEMORY", "4 gigs")]
    [InlineData("WORKER_DOCKER_MAX_CPUS", "-1")]
    [InlineData("WORKER_DOCKER_MAX_MEMORY", "0")]
    [InlineData("WORKER_DOCKER_PRIVILEGED", "maybe")]
    [InlineData("WORKER_DOCKER_STANDBY", "-2")]
    [InlineData("WORKER_DOCKER_ENDPOINT", "ssh://host")]
    [InlineData("DOCKER_HOST", "not a uri")]
    [InlineData("WORKER_DOCKER_VOLUMES", "/srv/cache")]
    [InlineData("WORKER_DOCKER_VOLUMES", "/srv/../etc:/x")]
    [InlineData("WORKER_DOCKER_TMPFS", "relative:rw")]
    [InlineData("TRAVIS_WORKER_DOCKER_TMPFS_MAP", "run:rw,exec")]
    [InlineData("TRAVIS_WORKER_DOCKER_BINDS", "/srv/cache")]
    [InlineData("TRAVIS_WORKER_DOCKER_BINDS", "/srv/cache:/cache:ro,rw")]
    [InlineData("TRAVIS_WORKER_DOCKER_BINDS", "/srv/cache:/cache:z,Z")]
    [InlineData("TRAVIS_WORKER_DOCKER_BINDS", "/srv/cache:/cache:shared,rslave")]
    [InlineData("TRAVIS_WORKER_DOCKER_BINDS", "/srv/cache:/cache:nocopy")]
    [InlineData("TRAVIS_WORKER_DOCKER_BINDS", "/srv/cache:/cache:exec")]
    [InlineData("WORKER_DOCKER_VOLUMES", "/srv/cache:/cache:z;z")]
    [InlineData("TRAVIS_WORKER_DOCKER_CONTAINER_LABELS", "worker-fleet:mine")]
    [InlineData("WORKER_DOCKER_CONTAINER_LABELS", "no-colon")]
    [InlineData("WORKER_DOCKER_TMPFS", "/.worker-job/:rw")]
    [InlineData("WORKER_DOCKER_VOLUMES", "/srv/cache:/.worker-job")]
    [InlineData("WORKER_DOCKER_PULL", "sometimes")]
    [InlineData("WORKER_ALLOWED_VOLUMES", "/srv/*:rw")]
    public void A_bad_value_stops_start_up_with_one_line_naming_the_variable(string variable, string value)
    {
        var e = Assert.Throws<InvalidSettingException>(() => DockerOptions.Load(SettingsSource.From((variable, value))));

        Assert.Equal(variable, e.Variable);
        Assert.StartsWith($"{variable}={value} is not valid: ", e.Message);
    }
}
