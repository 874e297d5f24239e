using Microsoft.Extensions.Logging;
using Worker.Core.Backends;

namespace Worker.Gce;

/// <summary>
/// Deletes the VM of a start that failed after its insert, and follows it until it is confirmed gone.
/// The first DELETE goes out at once; then, in the background, the delete's operation is awaited and
/// the instance looked up until it is not found, deleting it again whenever it is (a DELETE that
/// failed, an insert that landed after the DELETE). A 404 is final only for an insert the API
/// answered; one whose answer was lost may still land, so its instance must stay absent for a while
/// before the insert counts as one that made nothing. Every step is logged and the whole follow-up
/// bounded; what it can't confirm is left to the auto-implode and the cleanup sidecar, and said so.
/// </summary>
public sealed class FailedStartDeletions(ComputeClient compute, GceOptions options, ILogger logger)
{
    private static readonly TimeSpan FirstDeleteTimeout = TimeSpan.FromMinutes(2);

    /// <summary>How long a VM is followed in all.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    /// <summary>How long the instance of an insert without an answer must stay absent before it counts as never made.</summary>
    private static readonly TimeSpan AbsentFor = TimeSpan.FromMinutes(2);

    private readonly FollowUps _followUps = new();

    public int Count => _followUps.Count;

    /// <param name="insertAnswered">Whether the API answered the insert (an operation or an error it decided), so a 404 means the VM is gone for good.</param>
    public async Task DeleteAsync(string zone, string name, bool insertAnswered)
    {
        ComputeOperation? operation = null;
        using (var first = CancellationTokenSource.CreateLinkedTokenSource(_followUps.Closing))
        {
            first.CancelAfter(FirstDeleteTimeout);
            try
            {
                operation = await SendDeleteAsync(zone, name, first.Token);
            }
            catch (Exception e)
            {
                logger.LogWarning("Could not delete {Name} in {Zone} at once ({Error}); trying again until it is gone", name, zone, e.Message);
            }
        }
        _followUps.Start(limit => FollowAsync(zone, name, insertAnswered, operation, limit), Limit);
    }

    /// <summary>Waits for the follow-ups, at most <paramref name="most"/>; those still going are then given up (and say so).</summary>
    public Task CloseAsync(TimeSpan most) => _followUps.CloseAsync(most);

    private async Task FollowAsync(string zone, string name, bool insertAnswered, ComputeOperation? operation, CancellationToken limit)
    {
        DateTimeOffset? absentSince = null;
        while (!limit.IsCancellationRequested)
        {
            try
            {
                if (operation is not null)
                {
                    await compute.WaitForZoneOperationAsync(zone, operation, options.StopSleep, limit);
                    operation = null;
                }
                var instance = await compute.GetOrNullAsync<ComputeInstance>($"projects/{compute.Project}/zones/{zone}/instances/{name}", limit);
                if (instance is null)
                {
                    absentSince ??= DateTimeOffset.UtcNow;
                    if (insertAnswered)
                    {
                        logger.LogInformation("{Name} in {Zone}, whose start failed, is confirmed gone", name, zone);
                        return;
                    }
                    if (DateTimeOffset.UtcNow - absentSince >= AbsentFor)
                    {
                        logger.LogInformation("{Name} in {Zone} never turned up within {Absent}: its unanswered insert made nothing", name, zone, AbsentFor);
                        return;
                    }
                }
                else
                {
                    absentSince = null;
                    insertAnswered = true; // it is there, so its insert has landed: once deleted, it is gone for good
                    logger.LogWarning("{Name} in {Zone}, whose start failed, is still there ({Status}); deleting it", name, zone, instance.Status);
                    operation = await SendDeleteAsync(zone, name, limit);
                    continue;
                }
            }
            catch (Exception e) when (!limit.IsCancellationRequested)
            {
                logger.LogWarning("Following the delete of {Name} in {Zone} failed ({Error}); trying again", name, zone, e.Message);
            }
            try
            {
                await Task.Delay(options.StopSleep, limit);
            }
            catch (OperationCanceledException)
            {
            }
        }
        logger.LogError("{Name} in {Zone}, whose start failed, could not be confirmed gone; its auto-implode and the cleanup sidecar (deadline label) remain", name, zone);
    }

    /// <summary>A DELETE of the instance: its operation, or null when there is no such instance.</summary>
    private async Task<ComputeOperation?> SendDeleteAsync(string zone, string name, CancellationToken ct)
    {
        try
        {
            return await compute.MutateAsync(HttpMethod.Delete, $"projects/{compute.Project}/zones/{zone}/instances/{name}", null, Guid.NewGuid(), ct);
        }
        catch (ComputeApiException e) when (e.IsNotFound)
        {
            return null;
        }
    }
}
