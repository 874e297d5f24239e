using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Worker.JobBoard;

/// <summary>
/// job-board's job delivery API as travis-worker spoke it. Pop (<c>POST /jobs/pop?queue=Q</c>) and
/// fetch (<c>GET /jobs/N</c>) go with the basic authentication of <c>JOB_BOARD_URL</c>; claim
/// (<c>POST /jobs/N/claim?queue=Q</c>) and delete (<c>DELETE /jobs/N</c>) with the job's JWT as a
/// bearer token. Every request names the site (<c>Travis-Site</c>) and the processor (<c>From</c>); the
/// fetch also the infrastructure (<c>Travis-Infrastructure</c>). The path of <c>JOB_BOARD_URL</c> is
/// replaced, as travis-worker replaced it; its query is kept.
/// </summary>
internal sealed class JobBoardClient(JobBoardOptions options, JobBoardHttp http)
{
    public JobBoardOptions Options => options;

    /// <summary>One pop: the job id job-board gave this processor, or null for none (204); the answer says when to ask again.</summary>
    public async ValueTask<(JobBoardAnswerOrFailure Outcome, long? JobId)> PopAsync(string from, CancellationToken ct)
    {
        var outcome = await http.TryOnceAsync(() =>
        {
            var request = Request(HttpMethod.Post, "/jobs/pop", from, queue: true);
            request.Headers.Authorization = options.Basic;
            request.Content = new ByteArrayContent([]);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return request;
        }, ct);
        if (outcome.Answer is not { Status: HttpStatusCode.OK } answer)
        {
            return (outcome, null);
        }
        return (outcome, PoppedJob.IdIn(answer.Body));
    }

    /// <summary>The job as job-board hands it out; retried for <see cref="JobBoardTiming.GiveUpAfter"/> while it fails in passing (and on 424: its script could not be made yet).</summary>
    public Task<JobBoardAnswer> FetchAsync(long jobId, string from, CancellationToken ct) =>
        http.SendAsync($"fetching job {jobId}", () =>
        {
            var request = Request(HttpMethod.Get, "/jobs/" + Id(jobId), from, queue: false);
            request.Headers.Authorization = options.Basic;
            request.Headers.Add("Travis-Infrastructure", options.Infrastructure);
            return request;
        }, options.Timing.GiveUpAfter, ct, HttpStatusCode.FailedDependency);

    /// <summary>One claim refresh, with the job's JWT.</summary>
    public ValueTask<JobBoardAnswerOrFailure> RefreshClaimAsync(long jobId, string jwt, string from, CancellationToken ct) =>
        http.TryOnceAsync(() =>
        {
            var request = Request(HttpMethod.Post, $"/jobs/{Id(jobId)}/claim", from, queue: true);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
            request.Content = new ByteArrayContent([]);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            return request;
        }, ct);

    /// <summary>Deletes the job from job-board (it is done here); job-board answers 204.</summary>
    public Task<JobBoardAnswer> DeleteAsync(long jobId, string jwt, string from, CancellationToken ct) =>
        http.SendAsync($"deleting job {jobId}", () =>
        {
            var request = Request(HttpMethod.Delete, "/jobs/" + Id(jobId), from, queue: false);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
            return request;
        }, options.Timing.GiveUpAfter, ct);

    private HttpRequestMessage Request(HttpMethod method, string path, string from, bool queue)
    {
        var url = new UriBuilder(options.BaseUrl) { Path = path };
        if (queue)
        {
            var query = new StringBuilder(url.Query.TrimStart('?'));
            if (query.Length > 0)
            {
                query.Append('&');
            }
            query.Append("queue=").Append(Uri.EscapeDataString(options.Queue));
            url.Query = query.ToString();
        }
        var request = new HttpRequestMessage(method, url.Uri);
        request.Headers.Add("Travis-Site", options.Site);
        request.Headers.TryAddWithoutValidation("From", from);
        return request;
    }

    private static string Id(long jobId) => jobId.ToString(CultureInfo.InvariantCulture);
}
