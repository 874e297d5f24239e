using System.Globalization;
using System.Text.Json.Nodes;
using Worker.Core.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Worker.Core.Jobs;

/// <summary>
/// A job file written by a person (YAML, or JSON, which is YAML too) turned into travis's payload.
/// <code>
/// image: debian:bookworm
/// env: { GREETING: hello }
/// secrets: { TOKEN: s3cret }     # exported, never printed
/// before_script: [ "echo setup" ]
/// script: [ "echo $GREETING" ]
/// after_script: [ "echo done" ]
/// timeout: 5m                    # hard limit
/// log_silence: 1m
/// </code>
/// A file that already is a travis payload (it has a <c>job</c> object) is taken as it is, unknown
/// fields and all. In a job file, a key the worker does not read is refused, naming the nearest one
/// it knows: a typo (<c>scrpt</c>) must not pass as a job without a script, or a weaker one.
/// </summary>
public static class JobFile
{
    /// <summary>Keys of the file itself; they become the payload's job, timeouts, env_vars and so on.</summary>
    private static readonly HashSet<string> TopLevel = new(StringComparer.Ordinal)
    {
        "id", "number", "secrets", "timeout", "log_silence", "vm_size", "vm_config", "repository", "queue",
    };

    /// <summary>Keys that go into the payload's <c>config</c>, each read by the worker (script generator, start attributes, image).</summary>
    private static readonly HashSet<string> ConfigKeys = new(StringComparer.Ordinal)
    {
        "image", "image_name", "osx_image", "env", "before_script", "script", "after_script",
        "volumes", "cpus", "memory", "disk", "privileged", "language", "dist", "arch", "group", "os",
    };

    public static JobPayload Load(string path, string queueName)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException e)
        {
            throw new InvalidJobPayloadException($"can't read job file {path}: {e.Message}", e);
        }
        return Parse(text, queueName, Path.GetFileNameWithoutExtension(path));
    }

    public static JobPayload Parse(string text, string queueName, string name = "job")
    {
        var node = ToJson(text);
        if (node is not JsonObject doc)
        {
            throw new InvalidJobPayloadException("a job file must be a mapping of keys such as script, env and image");
        }
        if (doc["job"] is JsonObject)
        {
            return JobPayload.FromNode(doc);
        }
        RefuseUnknownKeys(doc);

        var id = doc["id"] is JsonValue idValue && long.TryParse(JobPayload.Str(idValue), NumberStyles.None, CultureInfo.InvariantCulture, out var given)
            ? given
            : NewJobId();
        var config = new JsonObject();
        foreach (var (key, value) in doc)
        {
            if (!TopLevel.Contains(key))
            {
                config[key] = value?.DeepClone();
            }
        }
        var envVars = new JsonArray();
        if (doc["secrets"] is JsonObject secrets)
        {
            foreach (var (key, value) in secrets)
            {
                envVars.Add(new JsonObject { ["name"] = key, ["value"] = JobPayload.Str(value) ?? "", ["public"] = false });
            }
        }
        else if (doc["secrets"] is not null)
        {
            throw new InvalidJobPayloadException("secrets must be a mapping of NAME: value");
        }

        var timeouts = new JsonObject();
        AddSeconds(timeouts, "hard_limit", doc["timeout"], "timeout");
        AddSeconds(timeouts, "log_silence", doc["log_silence"], "log_silence");

        var payload = new JsonObject
        {
            ["type"] = "job:test",
            ["job"] = new JsonObject
            {
                ["id"] = id,
                ["number"] = JobPayload.Str(doc["number"]) ?? "1.1",
                ["queued_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            },
            ["source"] = new JsonObject { ["id"] = id, ["number"] = "1" },
            ["repository"] = doc["repository"]?.DeepClone() ?? new JsonObject { ["id"] = 1, ["slug"] = "local/" + name },
            ["uuid"] = Guid.NewGuid().ToString(),
            ["config"] = config,
            ["env_vars"] = envVars,
            ["timeouts"] = timeouts,
            ["vm_size"] = doc["vm_size"]?.DeepClone(),
            ["vm_config"] = doc["vm_config"]?.DeepClone(),
            ["meta"] = new JsonObject { ["state_update_count"] = 0 },
            ["queue"] = JobPayload.Str(doc["queue"]) ?? queueName,
        };
        return JobPayload.FromNode(payload);
    }

    private static void RefuseUnknownKeys(JsonObject doc)
    {
        var unknown = doc.Select(entry => entry.Key).Where(key => !TopLevel.Contains(key) && !ConfigKeys.Contains(key)).ToList();
        if (unknown.Count == 0)
        {
            return;
        }
        var known = TopLevel.Concat(ConfigKeys).Order(StringComparer.Ordinal).ToList();
        var named = unknown.Select(key => KeyNames.Nearest(key, known) is { } nearest
            ? $"'{key}' (did you mean '{nearest}'?)"
            : $"'{key}'");
        throw new InvalidJobPayloadException(
            $"unknown key{(unknown.Count > 1 ? "s" : "")} in the job file: {string.Join(", ", named)}; a job file knows {string.Join(", ", known)}");
    }

    /// <summary>Unique enough for one host and well inside JSON's exact integers.</summary>
    public static long NewJobId() =>
        DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000 + Random.Shared.Next(1000);

    private static void AddSeconds(JsonObject timeouts, string key, JsonNode? value, string fileKey)
    {
        if (value is null)
        {
            return;
        }
        var text = JobPayload.Str(value) ?? "";
        if (!Durations.TryParse(text, out var duration) || duration <= TimeSpan.Zero)
        {
            throw new InvalidJobPayloadException($"{fileKey} must be a duration such as 90s, 5m or 1h30m, got '{text}'");
        }
        timeouts[key] = Math.Max(1, (long)Math.Ceiling(duration.TotalSeconds));
    }

    private static JsonNode? ToJson(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new InvalidJobPayloadException($"job file is not valid YAML or JSON: {e.Message}", e);
        }
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode);
    }

    private static JsonNode? Convert(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, child) in map.Children)
                {
                    var name = key is YamlScalarNode scalarKey
                        ? scalarKey.Value ?? ""
                        : throw new InvalidJobPayloadException($"job file keys must be plain names, got a {key.NodeType.ToString().ToLowerInvariant()} at line {key.Start.Line}");
                    obj[name] = Convert(child);
                }
                return obj;
            case YamlSequenceNode seq:
                var array = new JsonArray();
                foreach (var item in seq.Children)
                {
                    array.Add(Convert(item));
                }
                return array;
            case YamlScalarNode scalar:
                var value = scalar.Value ?? "";
                if (scalar.Style is ScalarStyle.Plain)
                {
                    if (value is "" or "~" or "null")
                    {
                        return null;
                    }
                    if (value is "true" or "false")
                    {
                        return JsonValue.Create(value == "true");
                    }
                    if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
                    {
                        return JsonValue.Create(n);
                    }
                    if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && value.Contains('.'))
                    {
                        return JsonValue.Create(d);
                    }
                }
                return JsonValue.Create(value);
            default:
                return null;
        }
    }
}
