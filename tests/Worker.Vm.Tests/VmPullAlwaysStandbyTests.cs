using System.Collections.Concurrent;
using Worker.Vm.Tests.Fakes;

namespace Worker.Vm.Tests;

/// <summary>
/// A standby under <c>_PULL=always</c>: it was cloned when it booted, so a job that may take it pulls
/// first, as any job under <c>always</c> does. When that pull finds the tag on a new image (a push
/// upstream since the standby's clone), the standby is deleted and the job and the standby after it
/// are cloned from the new image; when the tag did not move, the job takes the standby.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VmPullAlwaysStandbyTests
{
    private static readonly FakeVmImage Pushed = new("linux", VmTestBed.GuestUser) { DiskGb = 60 };

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_standby_cloned_before_its_tag_moved_is_not_taken_and_the_job_runs_on_the_new_image(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var imageOf = RecordImageAtRun(bed);
        var backend = bed.Backend(("_PULL", "always"), ("_STANDBY", "1"), ("_IMAGE_DEFAULT", VmTestBed.RegistryImage));
        await backend.Standby!.FillAsync(CancellationToken.None);
        var stale = Assert.Single(backend.Standby.Ready);
        bed.Fake.AddRegistryImage(VmTestBed.RegistryImage, Pushed);

        var (_, job) = await VmTestBed.RunJobAsync(backend, "script: [ 'echo on-the-pushed-image' ]");

        Assert.Equal("passed", await job.Outcome);
        Assert.Contains("on-the-pushed-image", job.Log);
        Assert.DoesNotContain("Using standby VM", job.Log);
        var vm = job.Log.Split("instance: ")[1].Split(' ')[0];
        Assert.Equal(Pushed, imageOf[vm]);
        Assert.Contains($"Deleting standby VM {stale}: it was cloned from {VmTestBed.RegistryImage} before that tag moved", bed.LoggedText());
        Assert.Contains($"Image {VmTestBed.RegistryImage} now names {VmTestBed.RegistryImage.Split(':')[0]}@sha256:", bed.LoggedText());
        await Eventually.TrueAsync(() => backend.Standby.Ready.Count == 1, "a standby of the pushed image is ready");
        Assert.Equal(Pushed, imageOf[backend.Standby.Ready[0]]);
        Assert.DoesNotContain(stale, bed.Fake.ClonedVms);
    }

    [Theory]
    [InlineData("tart")]
    [InlineData("vetu")]
    public async Task A_job_pulls_and_then_takes_the_standby_when_its_tag_did_not_move(string tool)
    {
        await using var bed = await VmTestBed.StartAsync(tool);
        var backend = bed.Backend(("_PULL", "always"), ("_STANDBY", "1"), ("_IMAGE_DEFAULT", VmTestBed.RegistryImage));
        await backend.Standby!.FillAsync(CancellationToken.None);
        var standby = Assert.Single(backend.Standby.Ready);
        var pullsBefore = bed.Fake.CallsOf("pull").Count;

        var (_, job) = await VmTestBed.RunJobAsync(backend, "script: [ 'echo on-the-standby' ]");

        Assert.Equal("passed", await job.Outcome);
        var pulling = job.Log.IndexOf($"Pulling image {VmTestBed.RegistryImage} ({tool} pull; WORKER_{tool.ToUpperInvariant()}_PULL is always).", StringComparison.Ordinal);
        var using_ = job.Log.IndexOf($"Using standby VM {standby}", StringComparison.Ordinal);
        Assert.True(pulling >= 0 && using_ > pulling, job.Log);
        // The job's pull, then the replacement standby's.
        await Eventually.TrueAsync(() => backend.Standby.Ready.Count == 1, "another standby is ready");
        Assert.Equal(pullsBefore + 2, bed.Fake.CallsOf("pull").Count);
        Assert.DoesNotContain("before that tag moved", bed.LoggedText());
    }

    /// <summary>The image each VM was cloned from, seen when its <c>run</c> starts (a job's VM is gone once the job ends).</summary>
    private static ConcurrentDictionary<string, FakeVmImage> RecordImageAtRun(VmTestBed bed)
    {
        var images = new ConcurrentDictionary<string, FakeVmImage>(StringComparer.Ordinal);
        bed.Fake.OnCall = call =>
        {
            if (call.Arguments[0] == "run" && bed.Fake.Vm(call.Arguments[^1]) is { } vm)
            {
                images[vm.Name] = vm.Image;
            }
        };
        return images;
    }
}
