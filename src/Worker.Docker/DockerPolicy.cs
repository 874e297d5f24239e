using System.Globalization;
using Worker.Core.Backends;
using Worker.Core.Jobs;
using Worker.Core.Security;

namespace Worker.Docker;

/// <summary>
/// The operator's rules for what a job may ask of its container, checked before anything is
/// created. Cirrus persistent-worker semantics for images and volumes (whole-string globs; no
/// allowed volumes means no volumes), and beyond them: no <c>..</c> out of an allowed directory, no
/// Docker socket unless a rule names it exactly (judged on a source's real path, links followed, when
/// the engine is on this host), privilege only when the operator allows it, and
/// ceilings on CPUs and memory. A refusal names the setting that refused.
/// </summary>
public sealed class DockerPolicy
{
    /// <summary>Docker refuses smaller memory limits; a job asking for less is refused here rather than failing at create.</summary>
    public const long MinimumMemory = 6L << 20;

    private static readonly string[] SocketNames = ["docker.sock", "containerd.sock", "podman.sock"];

    private readonly DockerOptions _options;
    private readonly ImageAllowList _images;
    private readonly VolumeAllowList _volumes;

    public DockerPolicy(DockerOptions options)
    {
        _options = options;
        _images = new ImageAllowList(options.ImageGlobs);
        _volumes = new VolumeAllowList(options.VolumeRules, followLinks: SeesEngineFiles);
    }

    /// <summary>The container every job that asks for nothing gets (and what a standby is).</summary>
    public ContainerSpec Default => new(_options.DefaultImage, _options.CpusPerJob, _options.MemoryPerJob, [], EveryContainerPrivileged, _options.ContainerUser);

    /// <summary>The user travis-worker ran every job as; its images (those its image selectors choose) are made for it.</summary>
    public const string TravisUser = "travis";

    private bool EveryContainerPrivileged => _options.Privileges == PrivilegedContainers.Always;

    public double? CpuCeiling => _options.CpuCeiling ?? (_options.CpusPerJob > 0 ? _options.CpusPerJob : null);

    public long? MemoryCeiling => _options.MemoryCeiling ?? (_options.MemoryPerJob > 0 ? _options.MemoryPerJob : null);

    /// <summary>The container the job gets, or <see cref="JobRefusedException"/> naming the rule it broke.</summary>
    /// <param name="selectedImage">
    /// The image the image selector chose for a job that names none (the host's image tagged for its
    /// language, an env mapping, job-board's answer): the operator's choice, as the default image is,
    /// so not checked against WORKER_ALLOWED_IMAGES.
    /// </param>
    public ContainerSpec Decide(StartAttributes job, string? selectedImage = null)
    {
        if (selectedImage == _options.DefaultImage)
        {
            // The default chosen by name (a mapping of the key "default") is still the default: its image's user, and a standby's shape.
            selectedImage = null;
        }
        var image = !string.IsNullOrWhiteSpace(job.Image) ? job.Image.Trim() : selectedImage ?? _options.DefaultImage;
        if (image != selectedImage && _images.Refusal(image, _options.DefaultImage) is { } refusal)
        {
            throw new JobRefusedException(refusal);
        }
        if (job.Privileged && _options.Privileges == PrivilegedContainers.Never)
        {
            throw new JobRefusedException("the job asks for a privileged container and WORKER_DOCKER_PRIVILEGED is false");
        }
        var cpus = job.Cpus ?? _options.CpusPerJob;
        if (job.Cpus is { } askedCpus && CpuCeiling is { } cpuCeiling && askedCpus > cpuCeiling)
        {
            throw new JobRefusedException(
                $"the job asks for {Format(askedCpus)} CPUs, more than WORKER_DOCKER_MAX_CPUS allows ({Format(cpuCeiling)})");
        }
        var memory = job.Memory ?? _options.MemoryPerJob;
        if (job.Memory is { } askedMemory)
        {
            if (MemoryCeiling is { } memoryCeiling && askedMemory > memoryCeiling)
            {
                throw new JobRefusedException(
                    $"the job asks for {Mib(askedMemory)} of memory, more than WORKER_DOCKER_MAX_MEMORY allows ({Mib(memoryCeiling)})");
            }
            if (askedMemory < MinimumMemory)
            {
                throw new JobRefusedException($"the job asks for {Mib(askedMemory)} of memory; Docker needs at least {Mib(MinimumMemory)}");
            }
        }
        var volumes = job.Volumes.Select(CheckVolume).ToList();
        var user = _options.ContainerUser ?? (selectedImage is not null && image == selectedImage ? TravisUser : null);
        return new ContainerSpec(image, cpus, memory, volumes, job.Privileged || EveryContainerPrivileged, user);
    }

    private VolumeRequest CheckVolume(string text)
    {
        if (!VolumeRequest.TryParse(text, out var volume))
        {
            throw new JobRefusedException(
                $"volume '{text}' is not SOURCE:DESTINATION[:ro|rw] with an absolute destination and no '..', outside {ScriptArchive.Directory} (WORKER_ALLOWED_VOLUMES)");
        }
        if (_volumes.IsEmpty)
        {
            throw new JobRefusedException($"volume '{volume.Source}' is not allowed: WORKER_ALLOWED_VOLUMES is empty, so jobs mount nothing");
        }
        var asked = volume.Source;
        if (asked.StartsWith('/'))
        {
            // Decide on (and bind) where the path really leads: a link in an allowed directory may point at the socket.
            volume = volume with
            {
                Source = _volumes.Reach(asked) ?? throw new JobRefusedException(
                    $"volume '{asked}' can't be resolved on this host (a symlink loop, or a directory the worker can't read)"),
            };
        }
        var named = VolumeAllowList.Named(asked, volume.Source);
        var socket = IsSocket(volume.Source);
        // A wildcard never lets the engine's own socket in: a rule must name it exactly.
        var rule = _volumes.RuleFor(volume.Source, exactly: socket);
        if (rule is null)
        {
            throw new JobRefusedException(socket
                ? $"volume {named} is a container engine socket or holds one; WORKER_ALLOWED_VOLUMES must name it exactly to allow it"
                : $"volume {named} is not allowed by WORKER_ALLOWED_VOLUMES ({_volumes})");
        }
        return rule.ForceReadOnly ? volume.AsReadOnly() : volume;
    }

    /// <summary>
    /// Whether this worker sees the files the engine binds (a unix socket: the same host), so links
    /// can be followed; a remote engine's links are out of sight and paths are judged as written.
    /// </summary>
    private bool SeesEngineFiles => _options.EndpointUri.Scheme == "unix";

    /// <summary>An engine socket, or a directory that holds one (mounting /var/run or / hands out the socket too).</summary>
    private bool IsSocket(string source)
    {
        if (SocketNames.Any(name => source.EndsWith("/" + name, StringComparison.Ordinal)))
        {
            return true;
        }
        var sockets = new List<string> { "/var/run/docker.sock", "/run/docker.sock" };
        if (_options.EndpointUri.Scheme == "unix")
        {
            sockets.Add(_options.EndpointUri.AbsolutePath);
        }
        if (SeesEngineFiles)
        {
            sockets.AddRange(sockets.Select(HostPath.Real).OfType<string>().ToList());
        }
        return sockets.Any(s => s == source || source == "/" || s.StartsWith(source + "/", StringComparison.Ordinal));
    }

    private static string Format(double n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Mib(long bytes) => bytes % (1L << 30) == 0
        ? $"{(bytes >> 30).ToString(CultureInfo.InvariantCulture)}g"
        : $"{(bytes / (double)(1L << 20)).ToString("0.#", CultureInfo.InvariantCulture)}m";
}
