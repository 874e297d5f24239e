using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Core.Images;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>GCE_IMAGE_SELECTOR_TYPE=api: job-board chooses the image of a job that names none, against the fake Compute API.</summary>
[Trait("Category", "Integration")]
public sealed class GceApiImageSelectorTests() : FakeGceTest(bootVms: true), IDisposable
{
    private readonly FakeJobBoard _jobBoard = new();

    public void Dispose() => _jobBoard.Dispose();

    private GceBackend Backend(ImageSelectorBackoff? backoff = null)
    {
        // GPUs allowed: job-board is asked for a GPU vm_size's image.
        var settings = Bed.Settings(("GCE_IMAGE_SELECTOR_TYPE", "api"), ("GCE_IMAGE_SELECTOR_URL", _jobBoard.UrlWith("worker", "jb-pass").ToString()),
            ("GCE_MAX_GPUS", "1"));
        var options = GceOptions.Load(settings);
        options = options with { ImageSelector = options.ImageSelector with { Backoff = backoff ?? options.ImageSelector.Backoff } };
        var compute = GceRegistration.CreateClient(options, settings, NullLoggerFactory.Instance);
        return new GceBackend(compute, options, host: null, NullLogger<GceBackend>.Instance);
    }

    private IEnumerable<string> SourceImages => Fake.Bodies.Where(b => b.Call == FakeCall.InsertInstance)
        .Select(b => b.Body["disks"]![0]!["initializeParams"]!["sourceImage"]!.GetValue<string>());

    [Fact]
    public async Task A_job_naming_no_image_runs_on_the_image_job_board_chose_for_it()
    {
        _jobBoard.Add("travis-ci-bookworm-1700000000", "gce", isDefault: true);
        _jobBoard.Add("travis-ci-jammy-1750000000", "gce", isDefault: false, "dist:jammy", "language_ruby:true");

        var (verdict, job) = await GceTestBed.RunJobAsync(Backend(), """
            id: 7301
            repository: { id: 9, slug: travis-ci/worker }
            language: ruby
            dist: jammy
            vm_size: gpu-medium
            script: [ "echo on the chosen image" ]
            """);

        Assert.True(await job.Outcome == "passed", job.Log);
        Assert.Contains("on the chosen image", job.Log);
        Assert.EndsWith("/global/images/travis-ci-jammy-1750000000", Assert.Single(SourceImages));
        var request = Assert.Single(_jobBoard.Requests);
        Assert.All(request.Lines, line =>
        {
            Assert.Contains("&infra=gce&", line);
            Assert.Contains("&job_id=7301&limit=1&repo=travis-ci%2Fworker", line);
            Assert.Contains("gpu_vm_type=gpu-medium&", line); // travis-worker's GPU machine, from vm_size
        });
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task No_image_from_job_board_is_gce_image_default_and_a_jobs_own_image_asks_nobody()
    {
        var backend = Backend();
        await using (var unmatched = await backend.StartAsync(Bed.Attributes(jobId: 31) with { Language = "go" }, Bed.ProgressSink(), CancellationToken.None))
        {
            await unmatched.StopAsync(CancellationToken.None);
        }
        await using (var named = await backend.StartAsync(Bed.Attributes(jobId: 32) with { Image = "debian-12-bookworm-v20260101" }, Bed.ProgressSink(), CancellationToken.None))
        {
            await named.StopAsync(CancellationToken.None);
        }

        Assert.Equal(["travis-ci-bookworm-1800000000", "debian-12-bookworm-v20260101"], SourceImages.Select(i => i.Split('/')[^1]));
        Assert.Single(_jobBoard.Requests);
        Assert.Empty(Fake.InstanceNames);
    }

    [Fact]
    public async Task A_job_board_that_stays_down_requeues_the_job_naming_its_url_and_creates_no_VM()
    {
        _jobBoard.Down = true;
        var backoff = new ImageSelectorBackoff { FirstWait = TimeSpan.FromMilliseconds(20), MaxWait = TimeSpan.FromMilliseconds(100), GiveUpAfter = TimeSpan.FromSeconds(1) };
        var clock = Stopwatch.StartNew();

        var (verdict, job) = await GceTestBed.RunJobAsync(Backend(backoff), "script: [ \"echo never\" ]");

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15));
        Assert.Equal("requeued", await job.Outcome);
        Assert.True(verdict.Requeue && verdict.RequeueCounted);
        Assert.Contains($"the image selector at http://worker:[redacted]@127.0.0.1:{_jobBoard.Url.Port}/images/search answered 500", verdict.Message);
        Assert.DoesNotContain("jb-pass", verdict.Message + job.Log);
        Assert.Equal(0, Fake.Count(FakeCall.InsertInstance));
    }
}
