using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Worker.Core.Jobs;

namespace Worker.Core.Scripts;

/// <summary>
/// Asks a travis-build compatible API for the script as travis-worker does: POST the payload, with
/// the <see cref="BuildApiOptions"/> set in it, as JSON to <c>WORKER_BUILD_API_URI</c> with
/// <c>?job_id=ID&amp;source=worker</c>; the URI's user info is sent as <c>Authorization: token ...</c>.
/// Transient failures (network, 429, 5xx) are retried with exponential backoff for up to a minute.
/// </summary>
public sealed class HttpScriptGenerator(HttpClient http, Uri endpoint, BuildApiOptions? build = null, TimeSpan? retryBudget = null) : IScriptGenerator
{
    private readonly TimeSpan _budget = retryBudget ?? TimeSpan.FromMinutes(1);
    private readonly BuildApiOptions _build = build ?? new BuildApiOptions();

    public async Task<string> GenerateAsync(JobPayload payload, CancellationToken ct)
    {
        var query = endpoint.Query.TrimStart('?');
        var target = new UriBuilder(endpoint)
        {
            UserName = "",
            Password = "",
            Query = (query.Length > 0 ? query + "&" : "") + $"job_id={payload.JobId.ToString(CultureInfo.InvariantCulture)}&source=worker",
        }.Uri;
        var token = Uri.UnescapeDataString(endpoint.UserInfo.Split(':')[0]);
        var json = _build.Apply(payload.Root).ToJsonString();
        var deadline = DateTime.UtcNow + _budget;
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            string failure;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, target)
                {
                    Content = new StringContent(json, Encoding.UTF8, "application/json"),
                };
                if (token.Length > 0)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("token", token);
                }
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain"));
                request.Headers.UserAgent.Add(new ProductInfoHeaderValue("worker-dotnet", UserAgentVersion));
                using var response = await http.SendAsync(request, ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                if (response.IsSuccessStatusCode)
                {
                    return body;
                }
                var code = (int)response.StatusCode;
                failure = $"{target} answered {code} {response.ReasonPhrase}: {Truncate(body)}";
                if (code != 429 && code < 500)
                {
                    throw new ScriptGenerationException("the build script API refused the job: " + failure);
                }
            }
            catch (HttpRequestException e)
            {
                failure = $"{target} is unreachable: {e.Message}";
            }
            catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
            {
                failure = $"{target} timed out: {e.Message}";
            }
            if (DateTime.UtcNow + delay > deadline)
            {
                throw new ScriptGenerationException($"could not generate the build script after {attempt} attempts: {failure}");
            }
            await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next(100)), ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
        }
    }

    // A product version may not hold '+' build metadata.
    private static readonly string UserAgentVersion = Pipeline.WorkerVersion.Text.Split('+')[0];

    private static string Truncate(string text) => text.Length > 200 ? text[..200] + "..." : text;
}
