using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;
using Worker.Core.Images;
using Worker.Core.Jobs;

namespace Worker.Vm;

/// <summary>
/// Makes sure a job's image is on this host before anything is cloned from it. With
/// <c>_PULL=missing</c> an image that <c>list</c> does not show is pulled; one pull per image at a
/// time, shared by every job that waits for it, and not tied to any one job's token, so a job that
/// gives up (its startup timeout, a cancel) leaves the pull running for the next. A pull that fails
/// refuses the job, naming the image; the next job asks again. With <c>_PULL=always</c> an OCI
/// reference is pulled before every clone, present or not, as cirrus-cli's persistent worker does, so
/// a tag that moved upstream is picked up; when that pull fails and the image is here, the job goes on
/// with the copy here (cirrus-cli ignores every failed pull, so a missing image then fails at the
/// clone with a less helpful message). A pull of an image that is here that prints nothing for
/// <see cref="VmOptions.RefreshSilenceLimit"/> is killed and counts as failed: a registry that takes
/// the connection and never answers would otherwise hold the job until its startup timeout, and the
/// host would count as broken. An
/// image a caller keeps pulled itself (tart-pre-pull, <see cref="LeavePullsToCaller"/>) is never
/// pulled here: a clone of it waits for that caller's pull under way, and one that is missing is left
/// to the clone, as cirrus-cli's lazy pull does. A pull that brings a digest of the image's
/// repository that the host did not have counts as a move of its tag (<see cref="Moves"/>): VMs
/// cloned before it (standbys) are of the image as it was.
/// </summary>
public sealed class VmImages(VmTool tool, VmOptions options, ILogger logger) : IDisposable
{
    private readonly Dictionary<string, Task> _pulls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _moves = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private volatile IReadOnlySet<string> _leftToCaller = new HashSet<string>(StringComparer.Ordinal);

    public async Task EnsureLocalAsync(string image, IProgress<string> progress, CancellationToken ct)
    {
        var listed = await tool.ListAsync(ct);
        var here = listed.Any(vm => vm.Name == image);
        if (_leftToCaller.Contains(image))
        {
            if (!here)
            {
                await AwaitPullUnderWayAsync(image, ct);
            }
            return;
        }
        if (here)
        {
            if (options.Pull == ImagePullPolicy.Always && IsOciReference(image))
            {
                await RefreshAsync(image, listed, progress, ct);
            }
            return;
        }
        if (options.Pull == ImagePullPolicy.Never)
        {
            throw new JobRefusedException($"image '{image}' is not on this host and {options.Variable("PULL")} is never");
        }
        progress.Report($"Pulling image {image} ({tool.Name} pull).");
        await PullAsync(image, Timeout.InfiniteTimeSpan, listed).WaitAsync(ct);
    }

    /// <summary>Pulls <paramref name="image"/> now, present or not, joining a pull of it under way; throws when the pull fails.</summary>
    public Task PullNowAsync(string image, CancellationToken ct) => PullAsync(image, Timeout.InfiniteTimeSpan).WaitAsync(ct);

    /// <summary>From now on, clones of these images make no pull of their own (their caller pulls them).</summary>
    public void LeavePullsToCaller(IReadOnlyCollection<string> images) => _leftToCaller = images.ToHashSet(StringComparer.Ordinal);

    public void Dispose() => _disposed.Cancel();

    /// <summary>
    /// How often a pull here found that <paramref name="image"/>'s tag had moved to a digest this
    /// host did not have. A VM cloned when it was lower was cloned from what the tag named before.
    /// </summary>
    public int Moves(string image)
    {
        lock (_moves)
        {
            return _moves.GetValueOrDefault(image);
        }
    }

    /// <summary>
    /// The digest names <c>list</c> shows for <paramref name="image"/>'s repository
    /// (<c>ghcr.io/org/name@sha256:…</c>): both CLIs list each cached digest beside the tags that
    /// link to it. Empty for an image named by its digest, which can't move.
    /// </summary>
    public static IReadOnlySet<string> DigestsOf(string image, IEnumerable<ListedVm> listed)
    {
        if (image.Contains('@', StringComparison.Ordinal))
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }
        var prefix = ImageReference.Split(image).Repository + "@";
        return listed.Where(vm => !vm.Local && vm.Name.StartsWith(prefix, StringComparison.Ordinal)).Select(vm => vm.Name).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Both CLIs take a name with a <c>/</c> (<c>ghcr.io/cirruslabs/macos-sonoma-base:latest</c>) as a
    /// remote image and one without as a local VM, which has nothing to pull from.
    /// </summary>
    private static bool IsOciReference(string image) => image.Contains('/', StringComparison.Ordinal);

    /// <summary>Pulls an image that is here again (<c>_PULL=always</c>); a failed or silent pull leaves the job the copy here.</summary>
    private async Task RefreshAsync(string image, IReadOnlyList<ListedVm> listed, IProgress<string> progress, CancellationToken ct)
    {
        progress.Report($"Pulling image {image} ({tool.Name} pull; {options.Variable("PULL")} is always).");
        try
        {
            await PullAsync(image, options.RefreshSilenceLimit, listed).WaitAsync(ct);
        }
        catch (JobRefusedException e)
        {
            // The pull logged why it failed; this says what the clone does about it.
            logger.LogWarning("Cloning the copy of image {Image} already on this host: its pull failed", image);
            progress.Report($"The pull failed ({e.Message}); the copy of the image already on this host is used.");
        }
    }

    /// <summary>The image's digests here before a pull; null when <c>list</c> fails (then no move can be told).</summary>
    private async Task<IReadOnlySet<string>?> DigestsHereAsync(string image, CancellationToken ct)
    {
        try
        {
            return DigestsOf(image, await tool.ListAsync(ct));
        }
        catch (VmCliException e)
        {
            logger.LogDebug("Listing the images before pulling {Image} failed: {Error}", image, e.Result.FirstLine);
            return null;
        }
    }

    /// <summary>
    /// A digest of the image's repository that was not here before the pull means its tag moved: VMs
    /// cloned before now are of the image as it was (<see cref="Moves"/>). A digest that was here
    /// already (a tag moved back) is not told apart; a VM cloned from it is taken as current.
    /// </summary>
    private async Task NoteMoveAsync(string image, IReadOnlySet<string>? before)
    {
        // Nothing of the repository here before: no VM can have been cloned from it.
        if (before is not { Count: > 0 })
        {
            return;
        }
        IReadOnlySet<string> after;
        try
        {
            after = DigestsOf(image, await tool.ListAsync(_disposed.Token));
        }
        catch (Exception e) when (e is VmCliException or OperationCanceledException)
        {
            return;
        }
        var added = after.Except(before).ToList();
        if (added.Count == 0)
        {
            return;
        }
        lock (_moves)
        {
            _moves[image] = _moves.GetValueOrDefault(image) + 1;
        }
        logger.LogInformation("Image {Image} now names {Digest}, which this host did not have: VMs cloned from it before are of the image as it was",
            image, string.Join(", ", added));
    }

    private async Task AwaitPullUnderWayAsync(string image, CancellationToken ct)
    {
        Task? pull;
        lock (_pulls)
        {
            pull = _pulls.GetValueOrDefault(image);
        }
        if (pull is null)
        {
            logger.LogDebug("Image {Image} is not here and its pulls are left to the caller that keeps it; the clone fetches it", image);
            return;
        }
        try
        {
            await pull.WaitAsync(ct);
        }
        catch (JobRefusedException e)
        {
            // Its puller logged the failure; the clone fetches the image or says it is not there.
            logger.LogDebug("The pull of {Image} this clone waited for failed: {Error}", image, e.Message);
        }
    }

    /// <summary>
    /// The pull of <paramref name="image"/> under way, else a new one killed once it prints nothing for
    /// <paramref name="silenceLimit"/>. The job that starts a pull sets its limit: a pull of an image
    /// that is not here has none (there is no copy to fall back on; the job's startup timeout bounds
    /// its wait), and a refresh that joins one waits as that job does. <paramref name="listedNow"/>:
    /// the <c>list</c> its caller just read, so a new pull needs none of its own to tell a move.
    /// </summary>
    private Task PullAsync(string image, TimeSpan silenceLimit, IReadOnlyList<ListedVm>? listedNow = null)
    {
        lock (_pulls)
        {
            if (!_pulls.TryGetValue(image, out var pull))
            {
                _pulls[image] = pull = RunPullAsync(image, silenceLimit, listedNow);
            }
            return pull;
        }
    }

    /// <summary>
    /// Runs one <c>pull</c>; its output (tart prints its progress while it downloads) sets the silence
    /// clock back. A pull killed for its silence fails every job waiting for it, as a failed pull does,
    /// and leaves the map, so the next job starts a pull of its own.
    /// </summary>
    private async Task RunPullAsync(string image, TimeSpan silenceLimit, IReadOnlyList<ListedVm>? listedNow)
    {
        await Task.Yield();
        // Not disposed: output read after a kill may still set it again (it registers on no other token).
        var silence = new CancellationTokenSource(silenceLimit);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token, silence.Token);
        try
        {
            var before = listedNow is null ? await DigestsHereAsync(image, stop.Token) : DigestsOf(image, listedNow);
            var result = await tool.Cli.RunAsync(["pull", image], stop.Token, onOutput: () => silence.CancelAfter(silenceLimit));
            if (result.ExitCode != 0)
            {
                logger.LogWarning("{Tool} pull {Image} failed: {Error}", tool.Name, image, result.FirstLine);
                throw new JobRefusedException($"image '{image}' can't be pulled: {result.FirstLine}");
            }
            logger.LogInformation("Pulled image {Image}", image);
            await NoteMoveAsync(image, before);
        }
        catch (OperationCanceledException) when (silence.IsCancellationRequested && !_disposed.IsCancellationRequested)
        {
            var limit = Durations.Format(silenceLimit);
            logger.LogWarning("{Tool} pull {Image} made no progress for {Limit}; stopped it", tool.Name, image, limit);
            throw new JobRefusedException($"image '{image}' can't be pulled: no progress for {limit}");
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
