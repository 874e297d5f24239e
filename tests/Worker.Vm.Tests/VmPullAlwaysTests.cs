using Worker.Core.Jobs;
using Worker.Vm.Tests.Fakes;

namespace Worker.Vm.Tests;

/// <summary>
/// <c>_PULL=always</c>, cirrus-cli's persistent worker's way: an OCI reference is pulled before every
/// clone, also when it is here, so a tag that moved upstream is picked up; a failed pull of an image
/// that is here falls back on the copy here, one of an image that is not refuses the job; so does a
/// pull of an image that is here that goes the silence limit without a word (it is killed), while one
/// that prints its progress is waited for; a local VM name and an image a caller keeps pulled are
/// never pulled.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VmPullAlwaysTests
{
    private static readonly (string, string) PullAlways = ("_PULL", "always");

    /// <summary>The refresh's silence limit in these tests, short to keep them quick.</summary>
    private static readonly TimeSpan SilenceLimit = TimeSpan.FromSeconds(2);

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task An_image_that_is_here_is_pulled_again_before_each_clone(string tool)
    {
        await using var bed = await StartWithCachedRegistryImageAsync(tool);
        var backend = bed.Backend(PullAlways);

        var (_, first) = await VmTestBed.RunJobAsync(backend, $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo first-ran' ]");
        var (_, second) = await VmTestBed.RunJobAsync(backend, $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo second-ran' ]");

        Assert.Equal("passed", await first.Outcome);
        Assert.Equal("passed", await second.Outcome);
        Assert.Equal(["pull", "clone", "pull", "clone"], PullsAndClones(bed));
        Assert.All(bed.Fake.CallsOf("pull"), pull => Assert.Equal($"pull {VmTestBed.RegistryImage}", pull.Command));
        Assert.Contains($"Pulling image {VmTestBed.RegistryImage} ({tool} pull; WORKER_{tool.ToUpperInvariant()}_PULL is always).", second.Log);
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_failed_pull_of_an_image_that_is_here_runs_the_job_on_the_copy_here(string tool)
    {
        await using var bed = await StartWithCachedRegistryImageAsync(tool);
        bed.Fake.PullFails = true;

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(PullAlways), $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo ran-on-the-copy' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("ran-on-the-copy", job.Log);
        Assert.Contains($"The pull failed (image '{VmTestBed.RegistryImage}' can't be pulled: failed to pull {VmTestBed.RegistryImage}: connection refused", job.Log);
        Assert.Contains("the copy of the image already on this host is used.", job.Log);
        Assert.Contains($"Cloning the copy of image {VmTestBed.RegistryImage} already on this host: its pull failed", bed.LoggedText());
        Assert.Equal(["pull", "clone"], PullsAndClones(bed));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_pull_of_an_image_that_is_here_that_goes_silent_is_killed_and_the_job_runs_on_the_copy_here(string tool)
    {
        await using var bed = await StartWithCachedRegistryImageAsync(tool);
        bed.Fake.PullHangs = true;

        var (_, job) = await VmTestBed.RunJobAsync(BackendWithShortSilence(bed), $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo ran-on-the-copy' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("ran-on-the-copy", job.Log);
        Assert.Contains($"The pull failed (image '{VmTestBed.RegistryImage}' can't be pulled: no progress for 2s); the copy of the image already on this host is used.", job.Log);
        Assert.Contains($"{tool} pull {VmTestBed.RegistryImage} made no progress for 2s; stopped it", bed.LoggedText());
        Assert.Contains($"Cloning the copy of image {VmTestBed.RegistryImage} already on this host: its pull failed", bed.LoggedText());
        Assert.Equal(["pull", "clone"], PullsAndClones(bed));
        Assert.Null(bed.Fake.CallsOf("pull").Single().ExitCode); // it never ended by itself
        await Eventually.TrueAsync(() => bed.Fake.RunningPulls == 0, "the silent pull's program is gone");
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_job_that_joined_a_pull_that_goes_silent_runs_on_the_copy_here_too(string tool)
    {
        await using var bed = await StartWithCachedRegistryImageAsync(tool);
        bed.Fake.PullHangs = true;
        var backend = BackendWithShortSilence(bed);
        var yaml = $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo ran-on-the-copy' ]";

        var (_, first) = await VmTestBed.RunJobAsync(backend, yaml, whileRunning: async _ =>
        {
            await Eventually.TrueAsync(() => bed.Fake.RunningPulls == 1, "the first job's pull hangs");
            var (_, joined) = await VmTestBed.RunJobAsync(backend, yaml);
            Assert.Equal("passed", await joined.Outcome);
            Assert.Contains("the copy of the image already on this host is used.", joined.Log);
        });

        Assert.Equal("passed", await first.Outcome);
        Assert.Contains("the copy of the image already on this host is used.", first.Log);
        Assert.Single(bed.Fake.CallsOf("pull"));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Fact]
    public async Task A_callers_pull_that_joined_a_pull_that_goes_silent_fails()
    {
        await using var bed = await StartWithCachedRegistryImageAsync("tart");
        bed.Fake.PullHangs = true;
        var backend = BackendWithShortSilence(bed);

        var (_, job) = await VmTestBed.RunJobAsync(backend, $"image: {VmTestBed.RegistryImage}\nscript: [ 'true' ]", whileRunning: async _ =>
        {
            await Eventually.TrueAsync(() => bed.Fake.RunningPulls == 1, "the job's pull hangs");
            using var patience = new CancellationTokenSource(Eventually.DefaultPatience);
            var failed = await Assert.ThrowsAsync<JobRefusedException>(() => backend.PullAsync(VmTestBed.RegistryImage, patience.Token));
            Assert.Equal($"image '{VmTestBed.RegistryImage}' can't be pulled: no progress for 2s", failed.Message);
        });

        Assert.Equal("passed", await job.Outcome);
        Assert.Single(bed.Fake.CallsOf("pull"));
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task The_job_after_a_pull_that_went_silent_starts_a_pull_of_its_own(string tool)
    {
        await using var bed = await StartWithCachedRegistryImageAsync(tool);
        bed.Fake.PullHangs = true;
        var backend = BackendWithShortSilence(bed);
        var (_, first) = await VmTestBed.RunJobAsync(backend, $"image: {VmTestBed.RegistryImage}\nscript: [ 'true' ]");
        Assert.Equal("passed", await first.Outcome);
        bed.Fake.PullHangs = false;

        var (_, second) = await VmTestBed.RunJobAsync(backend, $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo second-ran' ]");

        Assert.Equal("passed", await second.Outcome);
        Assert.DoesNotContain("the copy of the image already on this host is used", second.Log);
        Assert.Equal(["pull", "clone", "pull", "clone"], PullsAndClones(bed));
        Assert.Equal(0, bed.Fake.CallsOf("pull")[1].ExitCode);
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_pull_of_an_image_that_is_here_that_prints_its_progress_is_waited_for_past_the_silence_limit(string tool)
    {
        await using var bed = await StartWithCachedRegistryImageAsync(tool);
        // Progress every 500 ms against a limit of 4 s: a loaded CI machine once left the worker
        // without a line for the 2 s the other tests use, and it took the copy instead.
        var silenceLimit = SilenceLimit * 2;
        bed.Fake.PullTakes = silenceLimit * 2;
        var backend = bed.Backend(o => o with { RefreshSilenceLimit = silenceLimit }, PullAlways);

        var (_, job) = await VmTestBed.RunJobAsync(backend, $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo ran-on-the-pulled-image' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("ran-on-the-pulled-image", job.Log);
        Assert.DoesNotContain("the copy of the image already on this host is used", job.Log);
        var pull = bed.Fake.CallsOf("pull").Single();
        Assert.Equal(0, pull.ExitCode);
        // The fake's 500 ms waits, stamped by the wall clock, may add up to a hair under the whole (seen in CI).
        var waited = bed.Fake.CallsOf("clone").Single().At - pull.At;
        Assert.True(waited >= silenceLimit * 2 - TimeSpan.FromMilliseconds(50), $"the clone waited {waited.TotalMilliseconds:F1} ms, not for the whole pull");
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_failed_pull_of_an_image_that_is_not_here_refuses_the_job_naming_the_image(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.PullFails = true;

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(PullAlways), $"image: {VmTestBed.RegistryImage}\nscript: [ 'true' ]");

        Assert.Equal("errored", await job.Outcome);
        Assert.Contains($"image '{VmTestBed.RegistryImage}' can't be pulled: failed to pull {VmTestBed.RegistryImage}: connection refused", job.Log);
        Assert.Single(bed.Fake.CallsOf("pull"));
        Assert.Empty(bed.Fake.CallsOf("clone"));
        VmFaultTests.AssertNothingLeft(bed);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_local_VM_name_is_not_pulled(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);

        var (_, job) = await VmTestBed.RunJobAsync(bed.Backend(PullAlways), $"image: {VmTestBed.DefaultImage}\nscript: [ 'echo local-ran' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("local-ran", job.Log);
        Assert.Empty(bed.Fake.CallsOf("pull"));
        Assert.StartsWith($"clone {VmTestBed.DefaultImage} ", bed.Fake.CallsOf("clone").Single().Command, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_standby_of_an_image_that_is_here_pulls_it_before_its_clone(string tool)
    {
        await using var bed = await StartWithCachedRegistryImageAsync(tool);
        var backend = bed.Backend(PullAlways, ("_STANDBY", "1"), ("_IMAGE_DEFAULT", VmTestBed.RegistryImage));

        await backend.Standby!.FillAsync(CancellationToken.None);

        Assert.Single(backend.Standby.Ready);
        Assert.Equal(["pull", "clone"], PullsAndClones(bed));
    }

    [Fact]
    public async Task An_image_left_to_the_callers_pulls_is_not_pulled_by_its_clone()
    {
        await using var bed = await StartWithCachedRegistryImageAsync("tart");
        var backend = bed.Backend(PullAlways);
        backend.LeavePullsToCaller([VmTestBed.RegistryImage]);

        var (_, job) = await VmTestBed.RunJobAsync(backend, $"image: {VmTestBed.RegistryImage}\nscript: [ 'true' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Empty(bed.Fake.CallsOf("pull"));
    }

    private static VmBackend BackendWithShortSilence(VmTestBed bed) => bed.Backend(o => o with { RefreshSilenceLimit = SilenceLimit }, PullAlways);

    /// <summary>A bed whose registry image is already in the CLI's cache, as after an earlier pull.</summary>
    private static async Task<VmTestBed> StartWithCachedRegistryImageAsync(string tool)
    {
        var bed = await VmTestBed.StartAsync(tool);
        bed.Fake.AddCachedImage(VmTestBed.RegistryImage, new FakeVmImage("linux", VmTestBed.GuestUser));
        return bed;
    }

    private static List<string> PullsAndClones(VmTestBed bed) =>
        [.. bed.Fake.Calls.Select(c => c.Arguments[0]).Where(c => c is "pull" or "clone")];
}
