using System.Globalization;
using Worker.Core.Backends;
using Worker.Core.Jobs;
using Worker.Core.Security;

namespace Worker.Vm;

/// <summary>
/// The operator's rules for what a job may ask of its VM, checked before anything is pulled or
/// cloned: the image against <c>WORKER_ALLOWED_IMAGES</c> (as for Docker), CPUs, memory and disk
/// against the backend's ceilings, and volumes (Tart only) against <c>WORKER_ALLOWED_VOLUMES</c>.
/// A refusal names the setting that refused.
/// </summary>
public sealed class VmPolicy
{
    private const long Mib = 1L << 20;
    private const long Gib = 1L << 30;

    private readonly VmOptions _options;
    private readonly bool _mountsVolumes;
    private readonly ImageAllowList _images;
    private readonly VolumeAllowList _volumes;

    public VmPolicy(VmOptions options, bool mountsVolumes)
    {
        _options = options;
        _mountsVolumes = mountsVolumes;
        _images = new ImageAllowList(options.ImageGlobs);
        // The tool runs on this host, so a shared directory is the one this worker sees: links are followed.
        _volumes = new VolumeAllowList(options.VolumeRules, followLinks: true);
    }

    /// <summary>The VM of a job that asks for nothing: what a standby is.</summary>
    public VmSpec Default => new()
    {
        Image = _options.DefaultImage,
        Cpus = _options.Cpus,
        MemoryMib = ToMib(_options.Memory),
        DiskGb = ToGb(_options.Disk),
    };

    /// <summary>The VM the job gets, or <see cref="JobRefusedException"/> naming the rule it broke.</summary>
    public VmSpec Decide(StartAttributes job)
    {
        var image = string.IsNullOrWhiteSpace(job.Image) ? _options.DefaultImage : job.Image.Trim();
        if (_images.Refusal(image, _options.DefaultImage) is { } refusal)
        {
            throw new JobRefusedException(refusal);
        }
        var spec = Default with { Image = image, AppendRun = job.AppendRun, Request = job.Vm };
        if (job.Cpus is { } askedCpus)
        {
            var cpus = (int)Math.Ceiling(askedCpus);
            if (_options.EffectiveCpuCeiling is { } ceiling && cpus > ceiling)
            {
                throw new JobRefusedException(
                    $"the job asks for {cpus} CPUs, more than {_options.Variable("MAX_CPU")} allows ({ceiling})");
            }
            spec = spec with { Cpus = cpus, CpusAsked = true };
        }
        if (job.Memory is { } askedMemory)
        {
            if (_options.EffectiveMemoryCeiling is { } ceiling && askedMemory > ceiling)
            {
                throw new JobRefusedException(
                    $"the job asks for {Size(askedMemory)} of memory, more than {_options.Variable("MAX_MEMORY")} allows ({Size(ceiling)})");
            }
            spec = spec with { MemoryMib = ToMib(askedMemory), MemoryAsked = true };
        }
        if (job.Disk is { } askedDisk)
        {
            if (_options.EffectiveDiskCeiling is { } ceiling && askedDisk > ceiling)
            {
                throw new JobRefusedException(
                    $"the job asks for {Size(askedDisk)} of disk, more than {_options.Variable("MAX_DISK_SIZE")} allows ({Size(ceiling)})");
            }
            spec = spec with { DiskGb = ToGb(askedDisk), DiskAsked = true };
        }
        if (job.Volumes.Count > 0 && !_mountsVolumes)
        {
            throw new JobRefusedException($"the {_options.Tool} backend mounts no volumes ({_options.Tool} can't share host directories)");
        }
        return spec with { Volumes = Volumes(job.Volumes) };
    }

    private List<VmVolume> Volumes(IReadOnlyList<string> requests)
    {
        var volumes = new List<VmVolume>();
        foreach (var text in requests)
        {
            if (!TryParseVolume(text, out var source, out var target, out var readOnly))
            {
                throw new JobRefusedException(
                    $"volume '{text}' is not SOURCE:TARGET[:ro|rw] with absolute paths and no '..' (WORKER_ALLOWED_VOLUMES)");
            }
            if (_volumes.IsEmpty)
            {
                throw new JobRefusedException($"volume '{source}' is not allowed: WORKER_ALLOWED_VOLUMES is empty, so jobs mount nothing");
            }
            // Judged, and shared, where the path really leads: a link in an allowed directory may lead out of it.
            var reached = _volumes.Reach(source) ?? throw new JobRefusedException(
                $"volume '{source}' can't be resolved on this host (a symlink loop, or a directory the worker can't read)");
            var rule = _volumes.RuleFor(reached) ?? throw new JobRefusedException(
                $"volume {VolumeAllowList.Named(source, reached)} is not allowed by WORKER_ALLOWED_VOLUMES ({_volumes})");
            if (!Directory.Exists(reached))
            {
                throw new JobRefusedException($"volume '{source}' is not a directory on this host");
            }
            volumes.Add(new VmVolume(UniqueName(target, volumes), reached, target, readOnly || rule.ForceReadOnly));
        }
        return volumes;
    }

    /// <summary><c>SOURCE:TARGET[:ro|rw]</c>: absolute paths without <c>..</c>, collapsed.</summary>
    private static bool TryParseVolume(string text, out string source, out string target, out bool readOnly)
    {
        var parts = text.Split(':');
        source = parts.Length > 0 ? Clean(parts[0]) ?? "" : "";
        target = parts.Length > 1 ? Clean(parts[1]) ?? "" : "";
        readOnly = parts.Length == 3 && parts[2] == "ro";
        return parts.Length is 2 or 3 && source.Length > 0 && target.Length > 0 && (parts.Length == 2 || parts[2] is "ro" or "rw");
    }

    private static string? Clean(string path)
    {
        if (!path.StartsWith('/'))
        {
            return null;
        }
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments.Any(s => s is ".." or ".") ? null : "/" + string.Join('/', segments);
    }

    /// <summary>The share's name, from the target's last segment: what a macOS guest shows under <c>/Volumes/My Shared Files</c>.</summary>
    private static string UniqueName(string target, List<VmVolume> taken)
    {
        var last = target.TrimEnd('/').Split('/').LastOrDefault(s => s.Length > 0) ?? "volume";
        var name = new string(last.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray());
        var unique = name;
        for (var n = 2; taken.Any(v => v.Name == unique); n++)
        {
            unique = $"{name}-{n.ToString(CultureInfo.InvariantCulture)}";
        }
        return unique;
    }

    private static long ToMib(long bytes) => (bytes + Mib - 1) / Mib;

    private static int ToGb(long bytes) => (int)Math.Min(int.MaxValue, (bytes + Gib - 1) / Gib);

    private static string Size(long bytes) => bytes % Gib == 0
        ? $"{(bytes / Gib).ToString(CultureInfo.InvariantCulture)}g"
        : $"{(bytes / Mib).ToString(CultureInfo.InvariantCulture)}m";
}
