using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Worker.Core.Backends;

namespace Worker.Docker;

/// <summary>
/// Creates the worker stopped waiting for: the engine may still make the container (or have made it,
/// and only the answer was lost), and nobody would remove it until its deadline label. Each is followed
/// in the background until the container is confirmed gone: removed by its id once the late answer
/// comes, or by its name (which only this create used) as soon as it is there. A create that ended
/// without an answer made nothing once no container by that name has turned up for a while. Every
/// step is logged; what is not confirmed gone within the follow-up's limit is left to the cleanup
/// sidecar (its deadline label), and said so.
/// </summary>
public sealed class UnansweredCreates(IDockerClient client, ILogger logger)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan AbsentFor = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(2);

    private readonly FollowUps _followUps = new();

    public int Count => _followUps.Count;

    /// <summary>Follows <paramref name="create"/> (still waiting for its answer, or failed without one) of the container named <paramref name="name"/>.</summary>
    public void Follow(Task<CreateContainerResponse> create, string name)
    {
        _ = create.ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted); // seen here, should the follow-up give up first
        _followUps.Start(limit => FollowAsync(create, name, limit), Limit);
    }

    /// <summary>Waits for the follow-ups, at most <paramref name="most"/>; those still going are then given up (and say so).</summary>
    public Task CloseAsync(TimeSpan most) => _followUps.CloseAsync(most);

    private async Task FollowAsync(Task<CreateContainerResponse> create, string name, CancellationToken limit)
    {
        DateTimeOffset? answerless = null;
        while (!limit.IsCancellationRequested)
        {
            try
            {
                if (create.IsCompletedSuccessfully)
                {
                    await ContainerLauncher.RemoveAsync(client, create.Result.ID, limit);
                    logger.LogInformation("Container {Name} of a create answered too late is removed", name);
                    return;
                }
                if (create.Exception?.InnerException is DockerApiException refused)
                {
                    logger.LogInformation("The create of container {Name} was refused after all ({Error}): nothing to remove", name, refused.Message);
                    return;
                }
                if (create.IsFaulted && answerless is null)
                {
                    answerless = DateTimeOffset.UtcNow;
                    logger.LogWarning("The create of container {Name} ended without an answer ({Error}); looking for it by name", name, create.Exception?.InnerException?.Message);
                }
                await client.Containers.RemoveContainerAsync(name, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, limit);
                logger.LogInformation("Container {Name} of an unanswered create is removed", name);
                return;
            }
            catch (Exception e) when (DockerFailures.IsNoSuchContainer(e))
            {
                // Not there (yet): while the create may still be answered, that says nothing.
                if (answerless is { } since && DateTimeOffset.UtcNow - since >= AbsentFor)
                {
                    logger.LogInformation("No container {Name} turned up within {Absent} of its create ending without an answer: nothing was made", name, AbsentFor);
                    return;
                }
            }
            catch (Exception e) when (!limit.IsCancellationRequested)
            {
                logger.LogWarning("Could not remove container {Name} of an unanswered create ({Error}); trying again", name, e.Message);
            }
            // A late answer ends the pause at once.
            await Task.WhenAny(create, Task.Delay(Pause, limit)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        logger.LogError("Container {Name} of an unanswered create could not be confirmed gone within {Limit}; the cleanup sidecar removes it after its deadline label",
            name, Limit);
    }
}
