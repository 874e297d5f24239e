using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Worker.Core.Jobs;

/// <summary>
/// travis's job JSON (<c>type</c>, <c>job{id,number,queued_at}</c>, <c>repository</c>, <c>config</c>,
/// <c>timeouts</c>, <c>meta</c>, ...). The whole document is kept, unknown fields included, so it
/// can be passed on untouched; the properties read the fields the worker itself needs.
/// </summary>
public sealed class JobPayload
{
    /// <summary>The longest <c>timeouts.hard_limit</c> or <c>log_silence</c> a payload may ask for.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(7);

    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false };

    private readonly Values _values;

    private JobPayload(JsonObject root, long jobId, Values values)
    {
        Root = root;
        JobId = jobId;
        _values = values;
    }

    public JsonObject Root { get; }
    public long JobId { get; }

    public string? JobNumber => Str(Root["job"]?["number"]);
    public string? Uuid => Str(Root["uuid"]);
    public string? RepositorySlug => Str(Root["repository"]?["slug"]);
    public string? VmSize => Str(Root["vm_size"]);

    /// <summary>travis-scheduler's <c>vm_type</c>: <c>premium</c> asks for a bigger machine.</summary>
    public string? VmType => Str(Root["vm_type"]);
    public string? QueueName => Str(Root["queue"]);
    public JsonObject Config => Root["config"] as JsonObject ?? new JsonObject();
    public DateTimeOffset? QueuedAt =>
        DateTimeOffset.TryParse(Str(Root["job"]?["queued_at"]), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    /// <summary><c>meta.state_update_count</c>: how many state updates travis-hub has seen for the job.</summary>
    public int StateUpdateCount => _values.StateUpdateCount;

    /// <summary><c>meta.requeue_count</c>, where the file queue keeps a job's requeues.</summary>
    public int MetaRequeueCount => _values.MetaRequeueCount;

    /// <summary><c>timeouts.hard_limit</c> in seconds; null (or 0) means the worker's default.</summary>
    public TimeSpan? HardLimit => _values.HardLimit;

    /// <summary><c>timeouts.log_silence</c> in seconds; null (or 0) means the worker's default.</summary>
    public TimeSpan? LogSilence => _values.LogSilence;

    /// <summary>CPUs the job asks for (<c>config.cpus</c>).</summary>
    public double? Cpus => _values.Cpus;

    /// <summary>Memory in bytes the job asks for (<c>config.memory</c>, e.g. <c>2g</c>).</summary>
    public long? Memory => _values.Memory;

    /// <summary>Disk in bytes the job asks for (<c>config.disk</c>, e.g. <c>60g</c>).</summary>
    public long? Disk => _values.Disk;

    /// <summary>Volumes the job asks for (<c>config.volumes</c>, <c>src:dst[:ro]</c>).</summary>
    public IReadOnlyList<string> Volumes => _values.Volumes;

    /// <summary>GPUs the job asks for (<c>vm_config.gpu_count</c> and <c>gpu_type</c>); null when it names neither.</summary>
    public GpuRequest? Gpus => _values.Gpus;

    /// <summary>The zone the job asks its VM to be in (<c>vm_config.zone</c>); null when it names none.</summary>
    public string? RequestedZone => _values.RequestedZone;

    /// <summary>The image the job asks for: <c>config.image</c>, else travis's <c>config.image_name</c> / <c>osx_image</c>.</summary>
    public string? Image => Str(Config["image"]) ?? Str(Config["image_name"]) ?? Str(Config["osx_image"]);

    /// <summary>Values that must never appear in a log: travis's non-public <c>env_vars</c> and <c>secure_env</c> values.</summary>
    public IReadOnlyList<string> SecretValues
    {
        get
        {
            var secrets = new List<string>();
            foreach (var (_, value, isPublic) in EnvVars())
            {
                if (!isPublic && value.Length > 0)
                {
                    secrets.Add(value);
                }
            }
            return secrets;
        }
    }

    /// <summary>travis's <c>env_vars</c>: <c>[{name, value, public}]</c>, the repository settings' variables.</summary>
    public IEnumerable<(string Name, string Value, bool Public)> EnvVars()
    {
        if (Root["env_vars"] is not JsonArray array)
        {
            yield break;
        }
        foreach (var item in array)
        {
            var name = Str(item?["name"]);
            if (string.IsNullOrEmpty(name))
            {
                continue;
            }
            var isPublic = item?["public"] is JsonValue p && p.TryGetValue<bool>(out var b) && b;
            yield return (name, Str(item?["value"]) ?? "", isPublic);
        }
    }

    public static JobPayload Parse(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: Strict);
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            throw new InvalidJobPayloadException($"payload is not JSON: {e.Message}", e);
        }
        return FromNode(node);
    }

    public static JobPayload Parse(ReadOnlySpan<byte> utf8)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(utf8, documentOptions: Strict);
        }
        catch (Exception e) when (IsUnreadable(e))
        {
            throw new InvalidJobPayloadException($"payload is not JSON: {e.Message}", e);
        }
        return FromNode(node);
    }

    private static bool IsUnreadable(Exception e) => e is JsonException or ArgumentException or InvalidOperationException or DecoderFallbackException;

    /// <summary>
    /// Takes a parsed document as a payload once every value the worker reads from it is checked, so
    /// no later step can fail on it: a payload either is refused here, with the reason, or is usable.
    /// </summary>
    public static JobPayload FromNode(JsonNode? node)
    {
        try
        {
            return Validate(node);
        }
        catch (InvalidJobPayloadException)
        {
            throw;
        }
        catch (Exception e)
        {
            // JsonNode reads lazily: a duplicate key or a broken escape deep inside surfaces here.
            throw new InvalidJobPayloadException($"payload can't be read: {e.Message}", e);
        }
    }

    private static JobPayload Validate(JsonNode? node)
    {
        if (node is not JsonObject root)
        {
            throw new InvalidJobPayloadException("payload is not a JSON object");
        }
        ReadEverything(root);
        if (root["job"] is not JsonObject job)
        {
            throw new InvalidJobPayloadException("payload has no job object (job.id is required)");
        }
        var id = job["id"] switch
        {
            JsonValue v when v.TryGetValue<long>(out var n) => n,
            JsonValue v when v.TryGetValue<string>(out var s) && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) => n,
            null => throw new InvalidJobPayloadException("payload has no job.id"),
            var other => throw new InvalidJobPayloadException($"job.id must be a positive integer, got {Shorten(other)}"),
        };
        if (id <= 0)
        {
            throw new InvalidJobPayloadException($"job.id must be a positive integer, got {id}");
        }
        CheckType<JsonObject>(root, "config");
        CheckType<JsonObject>(root, "timeouts");
        CheckType<JsonObject>(root, "meta");
        CheckType<JsonObject>(root, "repository");
        CheckType<JsonArray>(root, "env_vars");
        CheckType<JsonObject>(root, "vm_config");
        CheckEnvVars(root["env_vars"] as JsonArray);
        var config = root["config"] as JsonObject ?? [];
        var vmConfig = root["vm_config"] as JsonObject;
        var values = new Values(
            HardLimit: ReadTimeout(root["timeouts"]?["hard_limit"], "hard_limit"),
            LogSilence: ReadTimeout(root["timeouts"]?["log_silence"], "log_silence"),
            StateUpdateCount: ReadCount(root["meta"]?["state_update_count"], "meta.state_update_count"),
            MetaRequeueCount: ReadCount(root["meta"]?["requeue_count"], "meta.requeue_count"),
            Cpus: ReadCpus(config["cpus"]),
            Memory: ReadSize(config["memory"], "memory", "2g or 512m"),
            Disk: ReadSize(config["disk"], "disk", "60g"),
            Volumes: ReadVolumes(config["volumes"]),
            Gpus: ReadGpus(vmConfig),
            RequestedZone: ReadName(vmConfig?["zone"], "vm_config.zone", "us-central1-b"));
        return new JobPayload(root, id, values);
    }

    public string ToJson() => Root.ToJsonString();

    public byte[] ToUtf8Bytes() => JsonSerializer.SerializeToUtf8Bytes(Root);

    /// <summary>A deep copy, so a requeue can change meta without touching the running job's view.</summary>
    public JobPayload Clone() => new((JsonObject)Root.DeepClone(), JobId, _values);

    /// <summary>
    /// Walks the whole document once: JsonNode builds objects and decodes strings on first use, so
    /// a duplicate key or an unpaired surrogate would otherwise throw in whichever step reads it first.
    /// </summary>
    private static void ReadEverything(JsonNode? node)
    {
        var pending = new Stack<JsonNode?>();
        pending.Push(node);
        while (pending.TryPop(out var next))
        {
            switch (next)
            {
                case JsonObject obj:
                    foreach (var (_, child) in obj)
                    {
                        pending.Push(child);
                    }
                    break;
                case JsonArray array:
                    foreach (var child in array)
                    {
                        pending.Push(child);
                    }
                    break;
                case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                    value.GetValue<string>();
                    break;
            }
        }
    }

    private static void CheckType<T>(JsonObject root, string key) where T : JsonNode
    {
        if (root[key] is JsonNode node && node is not T)
        {
            throw new InvalidJobPayloadException($"{key} must be a JSON {(typeof(T) == typeof(JsonArray) ? "array" : "object")}, got {node.GetValueKind().ToString().ToLowerInvariant()}");
        }
    }

    private static void CheckEnvVars(JsonArray? envVars)
    {
        foreach (var item in envVars ?? [])
        {
            if (item is not JsonObject variable)
            {
                throw new InvalidJobPayloadException($"env_vars must list objects such as {{\"name\":\"A\",\"value\":\"b\",\"public\":false}}, got {Shorten(item)}");
            }
            if (variable["name"] is JsonNode name && name.GetValueKind() != JsonValueKind.String)
            {
                throw new InvalidJobPayloadException($"env_vars: name must be a string, got {Shorten(name)}");
            }
            if (variable["value"] is JsonObject or JsonArray)
            {
                throw new InvalidJobPayloadException($"env_vars: the value of {Str(variable["name"])} must be a string, got {Shorten(variable["value"])}");
            }
        }
    }

    private static TimeSpan? ReadTimeout(JsonNode? node, string key)
    {
        if (node is null)
        {
            return null;
        }
        TimeSpan? limit = null;
        if (Number(node) is { } seconds)
        {
            if (seconds >= 0 && seconds <= MaxTimeout.TotalSeconds)
            {
                limit = TimeSpan.FromSeconds(seconds);
            }
        }
        else if (node is JsonValue s && s.TryGetValue<string>(out var text) && Configuration.Durations.TryParse(text, out var span) && span <= MaxTimeout)
        {
            limit = span;
        }
        if (limit is null)
        {
            throw new InvalidJobPayloadException(
                $"timeouts.{key} must be a number of seconds from 0 to {MaxTimeout.TotalSeconds:0} ({Configuration.Durations.Format(MaxTimeout)}), got {Shorten(node)}");
        }
        return limit > TimeSpan.Zero ? limit : null;
    }

    private static int ReadCount(JsonNode? node, string key)
    {
        if (node is null)
        {
            return 0;
        }
        return Number(node) is { } n && n >= 0 && n <= int.MaxValue && n == Math.Floor(n)
            ? (int)n
            : throw new InvalidJobPayloadException($"{key} must be a whole number from 0 to {int.MaxValue}, got {Shorten(node)}");
    }

    private static double? ReadCpus(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }
        return double.TryParse(Str(node), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0 && double.IsFinite(n)
            ? n
            : throw new InvalidJobPayloadException($"config.cpus must be a positive number, got {Shorten(node)}");
    }

    private static long? ReadSize(JsonNode? node, string key, string example)
    {
        if (node is null)
        {
            return null;
        }
        return node is JsonValue && Configuration.ByteSizes.TryParse(Str(node) ?? "", out var bytes) && bytes > 0
            ? bytes
            : throw new InvalidJobPayloadException($"config.{key} must be a size such as {example}, got {Shorten(node)}");
    }

    private static List<string> ReadVolumes(JsonNode? node) => node switch
    {
        null => [],
        JsonArray array => array.Select(v => v is JsonValue ? Str(v) ?? "" : throw new InvalidJobPayloadException($"config.volumes must list strings such as /src:/dst:ro, got {Shorten(v)}"))
            .Where(v => v.Length > 0).ToList(),
        JsonValue v when Str(v) is { Length: 0 } => [],
        _ => throw new InvalidJobPayloadException($"config.volumes must be a list, got {Shorten(node)}"),
    };

    /// <summary>travis-worker decoded <c>vm_config</c> into a whole count and a string, and failed the payload on anything else.</summary>
    private static GpuRequest? ReadGpus(JsonObject? vmConfig)
    {
        if (vmConfig is null)
        {
            return null;
        }
        var count = ReadCount(vmConfig["gpu_count"], "vm_config.gpu_count");
        var type = ReadName(vmConfig["gpu_type"], "vm_config.gpu_type", "nvidia-tesla-t4");
        return count > 0 || type is not null ? new GpuRequest(count, type) : null;
    }

    /// <summary>A name travis-worker decoded as a string: travis-scheduler leaves it empty for none, and anything but a string fails the payload.</summary>
    private static string? ReadName(JsonNode? node, string key, string example) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>().Trim() is { Length: > 0 } named ? named : null,
        var other => throw new InvalidJobPayloadException($"{key} must be a string such as {example}, got {Shorten(other)}"),
    };

    /// <summary>A value as it appears in a reason: JSON text, cut short so a 10 MB field doesn't make a 10 MB header.</summary>
    private static string Shorten(JsonNode? node)
    {
        var text = node?.ToJsonString() ?? "null";
        return text.Length <= 80 ? text : text[..80] + "...";
    }

    /// <summary>A JSON number as a double, whatever CLR type backs the node.</summary>
    public static double? Number(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture)
            : null;

    public static string? Str(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v => v.ToJsonString(),
        _ => null,
    };

    /// <summary>The values read from the document once, when it was taken.</summary>
    private sealed record Values(
        TimeSpan? HardLimit, TimeSpan? LogSilence, int StateUpdateCount, int MetaRequeueCount,
        double? Cpus, long? Memory, long? Disk, IReadOnlyList<string> Volumes, GpuRequest? Gpus, string? RequestedZone);
}
