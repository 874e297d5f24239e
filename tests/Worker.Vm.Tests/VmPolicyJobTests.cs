namespace Worker.Vm.Tests;

/// <summary>
/// The operator's rules on tart and vetu: what they refuse is refused before anything is pulled or
/// cloned (the stand-in sees no call), and what they allow reaches the CLI as asked.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VmPolicyJobTests
{
    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task An_image_outside_the_allow_list_is_refused_before_any_call(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("ALLOWED_IMAGES", "ghcr.io/acme/*")), "image: ghcr.io/evil/miner:1\nscript: [ 'true' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains("The job was refused by this worker's policy: image 'ghcr.io/evil/miner:1' is not allowed by WORKER_ALLOWED_IMAGES (ghcr.io/acme/*)", job.Log);
        Assert.Empty(bed.Fake.Calls);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task An_allowed_image_that_is_not_here_is_pulled_before_the_clone(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("ALLOWED_IMAGES", "ghcr.io/acme/*")), $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo pulled-and-ran' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("pulled-and-ran", job.Log);
        var order = bed.Fake.Calls.Select(c => c.Arguments[0]).Where(c => c is "pull" or "clone").ToList();
        Assert.Equal(["pull", "clone"], order);
        Assert.Equal($"pull {VmTestBed.RegistryImage}", bed.Fake.CallsOf("pull").Single().Command);
        Assert.Contains(VmTestBed.RegistryImage, bed.Fake.CachedImages);
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task An_image_whose_pull_fails_refuses_the_job_naming_the_image(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.PullFails = true;

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(), $"image: {VmTestBed.RegistryImage}\nscript: [ 'true' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains($"image '{VmTestBed.RegistryImage}' can't be pulled: failed to pull {VmTestBed.RegistryImage}: connection refused", job.Log);
        Assert.Empty(bed.Fake.CallsOf("clone"));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task With_pull_never_a_missing_image_is_refused_without_a_pull(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("_PULL", "never")), $"image: {VmTestBed.RegistryImage}\nscript: [ 'true' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains($"image '{VmTestBed.RegistryImage}' is not on this host and WORKER_{tool.ToUpperInvariant()}_PULL is never", job.Log);
        Assert.Empty(bed.Fake.CallsOf("pull"));
        Assert.Empty(bed.Fake.CallsOf("clone"));
    }

    [Theory]
    [InlineData("tart", "cpus: 8", "the job asks for 8 CPUs, more than WORKER_TART_MAX_CPU allows (4)")]
    [InlineData("vetu", "memory: 16g", "the job asks for 16g of memory, more than WORKER_VETU_MAX_MEMORY allows (8g)")]
    [InlineData("tart", "disk: 200g", "the job asks for 200g of disk, more than WORKER_TART_MAX_DISK_SIZE allows (100g)")]
    public async Task A_job_asking_above_a_ceiling_is_refused_before_any_call(string tool, string ask, string refusal)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("_MAX_CPU", "4"), ("_MAX_MEMORY", "8g"), ("_MAX_DISK_SIZE", "100g")), $"{ask}\nscript: [ 'true' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains(refusal, job.Log);
        Assert.Empty(bed.Fake.Calls);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_job_within_the_ceilings_gets_what_it_asked_for(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("_CPU", "2"), ("_MAX_CPU", "4"), ("_MAX_MEMORY", "8g")),
            "cpus: 3.5\nmemory: 6g\ndisk: 80g\nscript: [ 'nproc' ]");

        Assert.Equal("passed", await job.Outcome);
        var sets = bed.Fake.CallsOf("set").Select(c => string.Join(' ', c.Arguments.Skip(2))).ToList();
        Assert.Contains("--cpu 4", sets);
        Assert.Contains("--memory 6144", sets);
        Assert.Contains("--disk-size 80", sets);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_disk_the_tool_refuses_is_the_jobs_fault_when_the_job_asked_for_it(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(), "disk: 10g\nscript: [ 'true' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains($"{tool} refuses what the job asked for (--disk-size 10): the disk can only grow", job.Log);
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_disk_the_tool_refuses_is_the_hosts_fault_when_the_operator_set_it(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (verdict, job) = await VmTestBed.RunJobAsync(bed.Backend(("_DISK_SIZE", "10g")), "script: [ 'true' ]");

        Assert.Equal("requeued", await job.Outcome);
        Assert.Contains("requeued-uncounted", job.Events);
        Assert.Contains($"{tool} refuses this host's setting (--disk-size 10)", job.RequeueReason);
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Fact]
    public async Task Tart_shares_allowed_volumes_read_only_when_the_rule_says_so_and_links_them_in_a_macOS_guest()
    {
        await using var bed = await VmTestBed.StartAsync("tart");
        var cache = Directory.CreateDirectory(Path.Combine(bed.BaseDir, "shared", "cache")).FullName;
        var data = Directory.CreateDirectory(Path.Combine(bed.BaseDir, "readonly", "data")).FullName;
        var rules = $"{bed.BaseDir}/shared/*,{bed.BaseDir}/readonly/*:ro";

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("ALLOWED_VOLUMES", rules)),
            $"image: {VmTestBed.DarwinImage}\nvolumes: [ '{cache}:/home/{VmTestBed.GuestUser}/cache', '{data}:/home/{VmTestBed.GuestUser}/data:rw' ]\n" +
            "script: [ 'readlink ~/cache', 'readlink ~/data' ]");

        Assert.Equal("passed", await job.Outcome);
        var run = bed.Fake.CallsOf("run").Single().Arguments;
        Assert.Equal(["--dir", $"cache:{cache}", "--dir", $"data:{data}:ro"], run.SkipWhile(a => a != "--dir").Take(4));
        Assert.Contains("/Volumes/My Shared Files/cache", job.Log);
        Assert.Contains("/Volumes/My Shared Files/data", job.Log);
    }

    [Fact]
    public async Task Tart_judges_a_volume_where_its_links_lead_and_refuses_a_link_out_of_an_allowed_directory()
    {
        await using var bed = await VmTestBed.StartAsync("tart");
        var shared = Directory.CreateDirectory(Path.Combine(bed.BaseDir, "shared")).FullName;
        var link = Path.Combine(shared, "etc");
        File.CreateSymbolicLink(link, "/etc");

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("ALLOWED_VOLUMES", $"{shared}/*")),
            $"image: {VmTestBed.DarwinImage}\nvolumes: [ '{link}:/home/{VmTestBed.GuestUser}/etc' ]\nscript: [ 'true' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains($"volume '{link}' (really '/etc') is not allowed by WORKER_ALLOWED_VOLUMES", job.Log);
        Assert.Empty(bed.Fake.Calls);
    }

    [Theory]
    [InlineData("tart", "is not allowed by WORKER_ALLOWED_VOLUMES")]
    [InlineData("vetu", "the vetu backend mounts no volumes")]
    public async Task A_volume_no_rule_allows_is_refused_before_any_call(string tool, string refusal)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(("ALLOWED_VOLUMES", "/srv/cache/*")), "volumes: [ '/etc:/mnt/etc' ]\nscript: [ 'true' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains(refusal, job.Log);
        Assert.Empty(bed.Fake.Calls);
    }
}
