using Microsoft.Extensions.Logging;
using Worker.Core.Jobs;

namespace Worker.Vm;

/// <summary>
/// Makes sure a job's image is on this host before anything is cloned from it. With
/// <c>_PULL=missing</c> an image that <c>list</c> does not show is pulled; one pull per image at a
/// time, shared by every job that waits for it, and not tied to any one job's token, so a job that
/// gives up (its startup timeout, a cancel) leaves the pull running for the next. A pull that fails
/// refuses the job, naming the image; the next job asks again. (cirrus-cli pulls before every clone
/// and ignores a failure, so the clone then fails with a less helpful message.)
/// </summary>
public sealed class VmImages(VmTool tool, VmOptions options, ILogger logger) : IDisposable
{
    private readonly Dictionary<string, Task> _pulls = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();

    public async Task EnsureLocalAsync(string image, IProgress<string> progress, CancellationToken ct)
    {
        var listed = await tool.ListAsync(ct);
        if (listed.Any(vm => vm.Name == image))
        {
            return;
        }
        if (!options.PullMissing)
        {
            throw new JobRefusedException($"image '{image}' is not on this host and {options.Variable("PULL")} is never");
        }
        progress.Report($"Pulling image {image} ({tool.Name} pull).");
        await PullAsync(image).WaitAsync(ct);
    }

    public void Dispose() => _disposed.Cancel();

    private Task PullAsync(string image)
    {
        lock (_pulls)
        {
            if (!_pulls.TryGetValue(image, out var pull))
            {
                _pulls[image] = pull = RunPullAsync(image);
            }
            return pull;
        }
    }

    private async Task RunPullAsync(string image)
    {
        await Task.Yield();
        try
        {
            var result = await tool.Cli.RunAsync(["pull", image], _disposed.Token);
            if (result.ExitCode != 0)
            {
                logger.LogWarning("{Tool} pull {Image} failed: {Error}", tool.Name, image, result.FirstLine);
                throw new JobRefusedException($"image '{image}' can't be pulled: {result.FirstLine}");
            }
            logger.LogInformation("Pulled image {Image}", image);
        }
        finally
        {
            lock (_pulls)
            {
                _pulls.Remove(image);
            }
        }
    }
}
