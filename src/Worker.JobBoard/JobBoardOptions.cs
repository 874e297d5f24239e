using System.Net.Http.Headers;
using Worker.Core.Configuration;

namespace Worker.JobBoard;

/// <summary>
/// The http queue's settings (<c>WORKER_QUEUE_TYPE=http</c>), travis-worker's names: <c>JOB_BOARD_URL</c>
/// (its user info is the basic authentication of pop and fetch), <c>HTTP_POLLING_INTERVAL</c> and
/// <c>HTTP_REFRESH_CLAIM_INTERVAL</c>; the worker's own <c>TRAVIS_SITE</c> (required here),
/// <c>QUEUE_NAME</c>, <c>HOSTNAME</c> and backend name go with them.
/// </summary>
public sealed record JobBoardOptions
{
    public static readonly Setting<Uri?> Url = Setting.OptionalUri("JOB_BOARD_URL",
        "job-board's base URL, e.g. https://worker:token@job-board.example; its user info is the basic authentication of pops and fetches. Required with WORKER_QUEUE_TYPE=http.",
        secret: true, "http", "https");

    public static readonly Setting<TimeSpan> PollingInterval = Setting.Duration("HTTP_POLLING_INTERVAL", TimeSpan.FromSeconds(3),
        "Wait between two pops of an idle processor; job-board's Travis-Pop-Interval header, when it sends one, takes its place.");

    public static readonly Setting<TimeSpan> RefreshClaimInterval = Setting.Duration("HTTP_REFRESH_CLAIM_INTERVAL", TimeSpan.FromSeconds(5),
        "How often a running job's claim is renewed with job-board; its Travis-Refresh-Claim-Interval header, when it sends one, takes its place. A claim job-board refuses (4xx) cancels the job.");

    public static IReadOnlyList<ISetting> All { get; } = [Url, PollingInterval, RefreshClaimInterval];

    /// <summary>job-board's address without its user info.</summary>
    public required Uri BaseUrl { get; init; }

    /// <summary>The address as messages show it (password redacted).</summary>
    public string Shown => Redaction.Show(BaseUrl.OriginalString, secret: false);

    /// <summary>Basic authentication of pop and fetch, from the URL's user info; null: none.</summary>
    public AuthenticationHeaderValue? Basic { get; init; }

    /// <summary><c>Travis-Site</c>: the site job-board keeps the jobs under (org, com).</summary>
    public required string Site { get; init; }

    /// <summary><c>Travis-Infrastructure</c>: the worker's backend name, which job-board searches images by.</summary>
    public required string Infrastructure { get; init; }

    /// <summary>The queue popped, <c>QUEUE_NAME</c> (job-board drops a leading <c>builds.</c>).</summary>
    public required string Queue { get; init; }

    /// <summary>This host's name, in each processor's <c>From</c>.</summary>
    public required string Host { get; init; }

    public TimeSpan Polling { get; init; } = PollingInterval.Default;
    public TimeSpan RefreshClaim { get; init; } = RefreshClaimInterval.Default;
    public JobBoardTiming Timing { get; init; } = JobBoardTiming.Travis;

    /// <summary>How long closing the queue waits for log parts still on their way (the worker's teardown timeout).</summary>
    public TimeSpan CloseTimeout { get; init; } = WorkerOptions.TeardownTimeout.Default;

    /// <summary>Reads the settings; without <c>JOB_BOARD_URL</c> or <c>TRAVIS_SITE</c> there is nothing to pop from.</summary>
    public static JobBoardOptions Load(SettingsSource settings, WorkerOptions worker, string backendName)
    {
        var url = Url.Read(settings) ?? throw Missing(settings, Url.Key, Url.Allowed);
        var site = WorkerOptions.TravisSite.Read(settings);
        if (string.IsNullOrWhiteSpace(site))
        {
            throw Missing(settings, WorkerOptions.TravisSite.Key, "the site job-board keeps the jobs under (org or com)");
        }
        return new JobBoardOptions
        {
            BaseUrl = UrlCredentials.Without(url),
            Basic = UrlCredentials.Basic(url),
            Site = site.Trim(),
            Infrastructure = backendName,
            Queue = worker.JobQueueName,
            Host = worker.Host,
            Polling = PollingInterval.Read(settings),
            RefreshClaim = RefreshClaimInterval.Read(settings),
            CloseTimeout = worker.Teardown,
        };
    }

    /// <summary>
    /// A setting the http queue can't do without, named as the queue type was set (<c>TRAVIS_WORKER_JOB_BOARD_URL</c>
    /// beside <c>TRAVIS_WORKER_QUEUE_TYPE=http</c>), so the line points into the operator's own env file.
    /// </summary>
    private static InvalidSettingException Missing(SettingsSource settings, string key, string allowed)
    {
        const string QueueType = "QUEUE_TYPE";
        var queueType = settings.Find(QueueType)?.Variable ?? SettingsSource.Prefix + QueueType;
        var prefix = queueType[..^QueueType.Length];
        return new InvalidSettingException(settings.Find(key)?.Variable ?? prefix + key, settings.Find(key)?.Value ?? "",
            $"{allowed}, required with {queueType}=http");
    }
}
