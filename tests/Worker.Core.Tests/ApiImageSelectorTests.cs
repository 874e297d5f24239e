using System.Diagnostics;
using System.Text;
using Worker.Core.Backends;
using Worker.Core.Images;
using Worker.Core.Jobs;
using Worker.TestSupport;

namespace Worker.Core.Tests;

/// <summary>travis-worker's api image selector against a job-board on loopback that speaks its request and answer.</summary>
public sealed class ApiImageSelectorTests : IDisposable
{
    private static readonly ImageSelectorBackoff Quick = new()
    {
        FirstWait = TimeSpan.FromMilliseconds(20),
        MaxWait = TimeSpan.FromMilliseconds(100),
        GiveUpAfter = TimeSpan.FromSeconds(1),
        AttemptTimeout = TimeSpan.FromSeconds(5),
    };

    private readonly FakeJobBoard _jobBoard = new();

    public void Dispose() => _jobBoard.Dispose();

    private static ImageQuery RubyOnXenial => new("gce", 4711)
    {
        Repository = "travis-ci/travis-build",
        Language = "ruby",
        Dist = "xenial",
        Group = "stable",
        Os = "linux",
    };

    [Fact]
    public async Task One_post_asks_for_the_jobs_tag_sets_most_specific_first_then_single_default_tags_then_any_default_image()
    {
        await new ApiImageSelector(_jobBoard.Url, Quick).SelectAsync(RubyOnXenial, CancellationToken.None);

        var request = Assert.Single(_jobBoard.Requests);
        Assert.Equal(("POST", "/images/search"), (request.Method, request.Path));
        Assert.Equal("application/x-www-form-urlencoded; boundary=NL", request.ContentType);
        Assert.EndsWith("\n", request.Body);
        const string job = "fields%5Bimages%5D=name&gpu_vm_type=&infra=gce";
        const string who = "job_id=4711&limit=1&repo=travis-ci%2Ftravis-build";
        Assert.Equal(
        [
            $"{job}&is_default=false&{who}&tags=dist%3Axenial%2Cgroup_stable%3Atrue%2Clanguage_ruby%3Atrue%2Cos%3Alinux",
            $"{job}&is_default=false&{who}&tags=dist%3Axenial%2Cgroup_stable%3Atrue%2Clanguage_ruby%3Atrue",
            $"{job}&is_default=false&{who}&tags=dist%3Axenial%2Clanguage_ruby%3Atrue",
            $"{job}&is_default=false&{who}&tags=group_stable%3Atrue%2Clanguage_ruby%3Atrue",
            $"{job}&is_default=false&{who}&tags=language_ruby%3Atrue%2Cos%3Alinux",
            $"{job}&is_default=false&{who}&tags=dist%3Axenial",
            $"{job}&is_default=true&{who}&tags=language_ruby%3Atrue",
            $"{job}&is_default=true&{who}&tags=dist%3Axenial",
            $"{job}&is_default=true&{who}&tags=group_stable%3Atrue",
            $"{job}&is_default=true&{who}&tags=os%3Alinux",
            $"{job}&is_default=true&{who}",
        ], request.Lines);
    }

    [Fact]
    public async Task A_job_with_only_a_language_asks_for_it_alone_then_as_a_default_then_any_default_image()
    {
        await new ApiImageSelector(_jobBoard.Url, Quick).SelectAsync(new ImageQuery("docker", 12) { Language = "go" }, CancellationToken.None);

        Assert.Equal(
        [
            "fields%5Bimages%5D=name&gpu_vm_type=&infra=docker&is_default=false&job_id=12&limit=1&repo=&tags=language_go%3Atrue",
            "fields%5Bimages%5D=name&gpu_vm_type=&infra=docker&is_default=true&job_id=12&limit=1&repo=&tags=language_go%3Atrue",
            "fields%5Bimages%5D=name&gpu_vm_type=&infra=docker&is_default=true&job_id=12&limit=1&repo=",
        ], Assert.Single(_jobBoard.Requests).Lines);
    }

    [Fact]
    public async Task The_image_of_the_first_query_job_board_answers_wins_and_no_image_at_all_is_the_backends_default()
    {
        _jobBoard.Add("travis-ci-default-1700000000", "gce", isDefault: true);
        _jobBoard.Add("travis-ci-ruby-xenial-1700000000", "gce", isDefault: false, "dist:xenial", "language_ruby:true");
        _jobBoard.Add("travis-ci-ruby-xenial-1800000000", "gce", isDefault: false, "dist:xenial", "language_ruby:true");
        _jobBoard.Add("travis-ci-python-1700000000", "docker", isDefault: false, "language_python:true");
        var selector = new ApiImageSelector(_jobBoard.Url, Quick);

        Assert.Equal("travis-ci-ruby-xenial-1800000000", await selector.SelectAsync(RubyOnXenial, CancellationToken.None)); // the newest of the most specific
        Assert.Equal("travis-ci-default-1700000000", await selector.SelectAsync(RubyOnXenial with { Dist = "jammy", Language = "python" }, CancellationToken.None));
        Assert.Null(await new ApiImageSelector(_jobBoard.Url, Quick).SelectAsync(new ImageQuery("docker", 13) { Language = "go" }, CancellationToken.None));
    }

    [Fact]
    public async Task A_failing_job_board_is_asked_again_until_it_answers()
    {
        _jobBoard.Add("travis-ci-default-1700000000", "gce", isDefault: true);
        _jobBoard.Failures.Enqueue(500);
        _jobBoard.Failures.Enqueue(503);

        // A budget the three requests can't outlast on a slow first run (the first HTTP request pays for the JIT and the connection).
        var image = await new ApiImageSelector(_jobBoard.Url, Quick with { GiveUpAfter = TimeSpan.FromSeconds(30) }).SelectAsync(RubyOnXenial, CancellationToken.None);

        Assert.Equal("travis-ci-default-1700000000", image);
        Assert.Equal(3, _jobBoard.Requests.Count);
        Assert.Single(_jobBoard.Requests.Select(r => r.Body).Distinct()); // the same question each time
    }

    [Fact]
    public async Task A_job_board_that_holds_the_request_open_is_asked_again_after_the_attempt_timeout_warning_each_time()
    {
        _jobBoard.Add("travis-ci-default-1700000000", "gce", isDefault: true);
        using var http = new HttpClient(new FirstRequestHangs { InnerHandler = new SocketsHttpHandler() });
        using var log = new ListLoggerProvider();
        // A budget the hung attempt can't outlast under load (CI saw its 200 ms timeout fire after 1 s, which spent Quick's whole budget).
        var selector = new ApiImageSelector(_jobBoard.Url, Quick with { AttemptTimeout = TimeSpan.FromMilliseconds(200), GiveUpAfter = TimeSpan.FromSeconds(30) }, log.CreateLogger("selector"), http);

        Assert.Equal("travis-ci-default-1700000000", await selector.SelectAsync(RubyOnXenial, CancellationToken.None));

        Assert.Single(_jobBoard.Requests); // the first never left
        var warning = Assert.Single(log.Lines);
        Assert.StartsWith($"The image selector at {_jobBoard.Url} did not answer within", warning);
        Assert.Contains("; asking again in ", warning);
    }

    private sealed class FirstRequestHangs : DelegatingHandler
    {
        private int _sent;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (Interlocked.Increment(ref _sent) == 1)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            }
            return await base.SendAsync(request, ct);
        }
    }

    [Fact]
    public async Task A_job_board_that_stays_down_fails_the_start_within_the_backoff_naming_its_url_without_the_password()
    {
        _jobBoard.Down = true;
        var selector = new ApiImageSelector(_jobBoard.UrlWith("worker", "s3cret-pass"), Quick);
        var clock = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<ImageSelectorUnavailableException>(() => selector.SelectAsync(RubyOnXenial, CancellationToken.None));

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, Quick.GiveUpAfter + TimeSpan.FromSeconds(3));
        Assert.True(_jobBoard.Requests.Count >= 3, $"asked {_jobBoard.Requests.Count} times");
        Assert.Contains($"http://worker:[redacted]@127.0.0.1:{_jobBoard.Url.Port}/images/search answered 500", e.Message);
        Assert.DoesNotContain("s3cret-pass", e.Message);
        // Nobody's fault here: requeued and counted, and once the requeues are spent the job errors with the URL.
        var outcome = JobOutcome.Of(e);
        Assert.True(OutcomePolicy.Decide(outcome, requeueCount: 0, maxRequeues: 3) is { Requeue: true, RequeueCounted: true });
        var last = OutcomePolicy.Decide(outcome, requeueCount: 3, maxRequeues: 3);
        Assert.Equal(FinishState.Errored, last.State);
        Assert.Contains("/images/search", last.Message);
    }

    [Fact]
    public async Task A_job_board_nobody_listens_on_is_named_as_unreachable()
    {
        var gone = new FakeJobBoard();
        var url = gone.Url;
        gone.Dispose();

        var e = await Assert.ThrowsAsync<ImageSelectorUnavailableException>(() => new ApiImageSelector(url, Quick).SelectAsync(RubyOnXenial, CancellationToken.None));

        Assert.StartsWith($"the image selector at {url} can't be reached", e.Message);
        Assert.Equal(FailureKind.Capacity, e.Kind);
    }

    [Fact]
    public async Task The_startup_timeouts_token_cuts_the_retries_short()
    {
        _jobBoard.Down = true;
        using var startup = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new ApiImageSelector(_jobBoard.Url).SelectAsync(RubyOnXenial, startup.Token));

        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(5)); // travis-worker's limits would go on for a minute
    }

    [Fact]
    public async Task The_urls_credentials_go_as_basic_authentication_and_not_in_the_request_line()
    {
        await new ApiImageSelector(_jobBoard.UrlWith("worker", "p@ss word"), Quick).SelectAsync(RubyOnXenial, CancellationToken.None);

        var request = Assert.Single(_jobBoard.Requests);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("worker:p@ss word")), request.Authorization);
        Assert.Equal("/images/search", request.Path);
    }

    [Fact]
    public async Task A_tag_with_a_comma_refuses_the_job_saying_a_trailing_comma_in_travis_yml_does_that_and_asks_nothing()
    {
        var e = await Assert.ThrowsAsync<JobRefusedException>(() =>
            new ApiImageSelector(_jobBoard.Url, Quick).SelectAsync(RubyOnXenial with { Dist = "jammy," }, CancellationToken.None));

        Assert.Contains("'dist:jammy,'", e.Rule);
        Assert.Contains("trailing comma in a .travis.yml value", e.Rule);
        Assert.Empty(_jobBoard.Requests);
    }

    [Fact]
    public async Task An_answer_that_is_not_job_boards_json_fails_at_once_naming_the_url()
    {
        using var garbled = new LoopbackHttpServer(async context => await context.Response.OutputStream.WriteAsync("<html>proxy error</html>"u8.ToArray()));
        var url = new Uri(garbled.BaseUri, "images/search");

        var e = await Assert.ThrowsAsync<ImageSelectorUnavailableException>(() => new ApiImageSelector(url, Quick).SelectAsync(RubyOnXenial, CancellationToken.None));

        Assert.Contains($"the image selector at {url} answered what is not job-board's", e.Message);
    }
}
