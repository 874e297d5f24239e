using System.Net.Http.Headers;
using System.Text;
using Worker.Core.Jobs;

namespace Worker.Core.Scripts;

/// <summary>
/// Asks a travis-build compatible API for the script: POST the payload as JSON to
/// <c>WORKER_BUILD_API_URI</c>; the URI's user info is sent as <c>Authorization: token ...</c>.
/// Transient failures (network, 429, 5xx) are retried with exponential backoff for up to a minute.
/// </summary>
public sealed class HttpScriptGenerator(HttpClient http, Uri endpoint, TimeSpan? retryBudget = null) : IScriptGenerator
{
    private readonly TimeSpan _budget = retryBudget ?? TimeSpan.FromMinutes(1);

    public async Task<string> GenerateAsync(JobPayload payload, CancellationToken ct)
    {
        var target = new UriBuilder(endpoint) { UserName = "", Password = "" }.Uri;
        var token = Uri.UnescapeDataString(endpoint.UserInfo.Split(':')[0]);
        var deadline = DateTime.UtcNow + _budget;
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            string failure;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, target)
                {
                    Content = new StringContent(payload.ToJson(), Encoding.UTF8, "application/json"),
                };
                if (token.Length > 0)
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("token", token);
                }
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain"));
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

    private static string Truncate(string text) => text.Length > 200 ? text[..200] + "..." : text;
}
