namespace Worker.Vm.Tests;

/// <summary>
/// Images a caller pulls itself (<see cref="Core.Backends.IImagePuller"/>, the Cirrus bridge's
/// tart-pre-pull): pulled on request, present or not, and a clone of one makes no pull of its own.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VmPrePulledImageTests
{
    [Fact]
    public async Task A_job_of_an_image_left_to_the_callers_pulls_makes_no_pull_and_the_clone_fetches_it()
    {
        await using var bed = await VmTestBed.StartAsync("tart");
        var backend = bed.Backend();
        backend.LeavePullsToCaller([VmTestBed.RegistryImage]);

        var (_, job) = await VmTestBed.RunJobAsync(backend, $"image: {VmTestBed.RegistryImage}\nscript: [ 'echo ran-without-a-pull' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("ran-without-a-pull", job.Log);
        Assert.Empty(bed.Fake.CallsOf("pull"));
        Assert.StartsWith($"clone {VmTestBed.RegistryImage} ", bed.Fake.CallsOf("clone").Single().Command, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_callers_pull_fetches_an_image_that_is_here_again_and_throws_when_it_fails()
    {
        await using var bed = await VmTestBed.StartAsync("tart");
        var backend = bed.Backend();

        await backend.PullAsync(VmTestBed.RegistryImage, CancellationToken.None);
        await backend.PullAsync(VmTestBed.RegistryImage, CancellationToken.None);
        bed.Fake.PullFails = true;
        var failed = await Assert.ThrowsAnyAsync<Exception>(() => backend.PullAsync(VmTestBed.RegistryImage, CancellationToken.None));

        Assert.Equal(Enumerable.Repeat($"pull {VmTestBed.RegistryImage}", 3), bed.Fake.CallsOf("pull").Select(c => c.Command));
        Assert.Contains("connection refused", failed.Message);
    }
}
