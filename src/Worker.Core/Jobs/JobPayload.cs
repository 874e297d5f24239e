using System.Globalization;
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
    private JobPayload(JsonObject root, long jobId)
    {
        Root = root;
        JobId = jobId;
    }

    public JsonObject Root { get; }
    public long JobId { get; }

    public string? JobNumber => Str(Root["job"]?["number"]);
    public string? Uuid => Str(Root["uuid"]);
    public string? RepositorySlug => Str(Root["repository"]?["slug"]);
    public string? VmSize => Str(Root["vm_size"]);
    public string? QueueName => Str(Root["queue"]);
    public JsonObject Config => Root["config"] as JsonObject ?? new JsonObject();
    public DateTimeOffset? QueuedAt =>
        DateTimeOffset.TryParse(Str(Root["job"]?["queued_at"]), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
    public int StateUpdateCount => Number(Root["meta"]?["state_update_count"]) is { } n ? (int)n : 0;

    /// <summary><c>timeouts.hard_limit</c> in seconds; null (or 0) means the worker's default.</summary>
    public TimeSpan? HardLimit => Seconds(Root["timeouts"]?["hard_limit"]);

    /// <summary><c>timeouts.log_silence</c> in seconds; null (or 0) means the worker's default.</summary>
    public TimeSpan? LogSilence => Seconds(Root["timeouts"]?["log_silence"]);

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
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
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
            var reader = new Utf8JsonReader(utf8);
            node = JsonNode.Parse(ref reader);
        }
        catch (JsonException e)
        {
            throw new InvalidJobPayloadException($"payload is not JSON: {e.Message}", e);
        }
        return FromNode(node);
    }

    public static JobPayload FromNode(JsonNode? node)
    {
        if (node is not JsonObject root)
        {
            throw new InvalidJobPayloadException("payload is not a JSON object");
        }
        if (root["job"] is not JsonObject job)
        {
            throw new InvalidJobPayloadException("payload has no job object (job.id is required)");
        }
        var id = job["id"] switch
        {
            JsonValue v when v.TryGetValue<long>(out var n) => n,
            JsonValue v when v.TryGetValue<string>(out var s) && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) => n,
            null => throw new InvalidJobPayloadException("payload has no job.id"),
            var other => throw new InvalidJobPayloadException($"job.id must be a positive integer, got {other.ToJsonString()}"),
        };
        if (id <= 0)
        {
            throw new InvalidJobPayloadException($"job.id must be a positive integer, got {id}");
        }
        CheckType<JsonObject>(root, "config");
        CheckType<JsonObject>(root, "timeouts");
        CheckType<JsonObject>(root, "meta");
        CheckType<JsonArray>(root, "env_vars");
        foreach (var key in new[] { "hard_limit", "log_silence" })
        {
            if (root["timeouts"]?[key] is JsonNode t && !(Number(t) >= 0 || t.GetValueKind() == JsonValueKind.String))
            {
                throw new InvalidJobPayloadException($"timeouts.{key} must be a number of seconds, got {t.ToJsonString()}");
            }
        }
        return new JobPayload(root, id);
    }

    public string ToJson() => Root.ToJsonString();

    public byte[] ToUtf8Bytes() => JsonSerializer.SerializeToUtf8Bytes(Root);

    /// <summary>A deep copy, so a requeue can change meta without touching the running job's view.</summary>
    public JobPayload Clone() => new((JsonObject)Root.DeepClone(), JobId);

    private static void CheckType<T>(JsonObject root, string key) where T : JsonNode
    {
        if (root[key] is JsonNode node && node is not T)
        {
            throw new InvalidJobPayloadException($"{key} must be a JSON {(typeof(T) == typeof(JsonArray) ? "array" : "object")}, got {node.GetValueKind().ToString().ToLowerInvariant()}");
        }
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

    private static TimeSpan? Seconds(JsonNode? node)
    {
        double seconds;
        if (Number(node) is { } d)
        {
            seconds = d;
        }
        else if (node is JsonValue s && s.TryGetValue<string>(out var text) && Configuration.Durations.TryParse(text, out var span))
        {
            seconds = span.TotalSeconds;
        }
        else
        {
            return null;
        }
        return seconds > 0 ? TimeSpan.FromSeconds(seconds) : null;
    }
}
