using System.Text;
using System.Text.Json.Nodes;

namespace Worker.TestSupport;

/// <summary>
/// Job payloads broken the ways a queue delivers broken payloads, from a seed so a failure can be
/// replayed: random JSON mutations (members deleted or given values of the wrong type, out-of-range
/// numbers), missing or bad job ids, duplicate keys, invalid UTF-8, unpaired surrogates, truncation,
/// deep nesting, and very large fields. Some stay usable; a test checks that each one either is
/// refused with a reason or runs to a reported end.
/// </summary>
public static class MalformedPayloads
{
    public sealed record Payload(int Index, string Mutation, byte[] Bytes);

    private static readonly string[] WrongValues =
    [
        "1000000000000", "-1", "0", "1.5", "1e400", "-1e400", "\"\"", "\"soon\"", "true", "null", "[]", "{}", "[[[]]]",
        "{\"x\":{}}", "\"99999999999999999999\"", "99999999999999999999",
    ];

    /// <param name="seed">The same seed gives the same payloads.</param>
    /// <param name="count">How many.</param>
    /// <param name="largeFieldBytes">The size of the occasional very large field.</param>
    /// <param name="largeEvery">One payload in this many gets a very large field.</param>
    /// <param name="firstJobId">Payload i has job id <c>firstJobId + i</c> unless a mutation changes it.</param>
    public static IEnumerable<Payload> Generate(int seed, int count, int largeFieldBytes = 10 << 20, int largeEvery = 50, long firstJobId = 8_100_000_000)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var root = Base(firstJobId + i);
            var applied = new List<string>();
            var mutations = 1 + random.Next(3);
            for (var m = 0; m < mutations; m++)
            {
                applied.Add(MutateTree(root, random));
            }
            if (i % largeEvery == largeEvery / 2)
            {
                var objects = new List<JsonNode>();
                Collect(root, objects);
                var holder = objects.OfType<JsonObject>().ElementAt(random.Next(objects.OfType<JsonObject>().Count()));
                holder["large"] = new string('x', largeFieldBytes);
                applied.Add($"{holder.GetPath()}.large is {largeFieldBytes} bytes");
            }
            var text = root.ToJsonString();
            if (random.Next(3) == 0)
            {
                var (mutated, name) = MutateText(text, random);
                text = mutated;
                applied.Add(name);
            }
            var bytes = Encoding.UTF8.GetBytes(text);
            if (random.Next(12) == 0)
            {
                bytes = InvalidUtf8(bytes, random);
                applied.Add("invalid UTF-8");
            }
            yield return new Payload(i, string.Join(", ", applied), bytes);
        }
    }

    private static JsonObject Base(long jobId) => new()
    {
        ["type"] = "job:test",
        ["job"] = new JsonObject { ["id"] = jobId, ["number"] = "1.1", ["queued_at"] = "2026-11-23T10:00:00Z" },
        ["source"] = new JsonObject { ["id"] = 1, ["number"] = "1" },
        ["repository"] = new JsonObject { ["id"] = 3, ["slug"] = "fuzz/app" },
        ["uuid"] = Guid.NewGuid().ToString(),
        ["config"] = new JsonObject
        {
            ["language"] = "shell",
            ["script"] = new JsonArray("true"),
            ["env"] = new JsonObject { ["A"] = "b" },
            ["cpus"] = 1,
            ["memory"] = "256m",
        },
        ["env_vars"] = new JsonArray(new JsonObject { ["name"] = "SECRET", ["value"] = "s3cret", ["public"] = false }),
        ["timeouts"] = new JsonObject { ["hard_limit"] = 600, ["log_silence"] = 60 },
        ["meta"] = new JsonObject { ["state_update_count"] = 0 },
        ["queue"] = "builds.fuzz",
    };

    private static string MutateTree(JsonObject root, Random random)
    {
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[random.Next(nodes.Count)];
        switch (random.Next(19))
        {
            case < 6:
                Replace(target, JsonNode.Parse(WrongValues[random.Next(WrongValues.Length)]));
                return $"{target.GetPath()} = wrong value";
            case < 10:
                if (target.Parent is null)
                {
                    return "nothing deleted";
                }
                Replace(target, null, delete: true);
                return $"{target.GetPath()} deleted";
            case < 13:
                var job = root["job"] as JsonObject;
                var id = WrongValues[random.Next(WrongValues.Length)];
                if (job is null)
                {
                    root["job"] = JsonNode.Parse(id);
                    return "job = " + id;
                }
                if (random.Next(3) == 0)
                {
                    job.Remove("id");
                    return "job.id missing";
                }
                job["id"] = JsonNode.Parse(id);
                return "job.id = " + id;
            case < 16:
                var timeouts = root["timeouts"] as JsonObject ?? [];
                root["timeouts"] = timeouts;
                timeouts[random.Next(2) == 0 ? "hard_limit" : "log_silence"] = JsonNode.Parse(WrongValues[random.Next(6)]);
                return "timeouts out of range";
            default:
                var config = root["config"] as JsonObject ?? [];
                root["config"] = config;
                var key = new[] { "cpus", "memory", "volumes", "script", "env" }[random.Next(5)];
                config[key] = JsonNode.Parse(WrongValues[random.Next(WrongValues.Length)]);
                return $"config.{key} = wrong value";
        }
    }

    private static (string Text, string Name) MutateText(string text, Random random)
    {
        switch (random.Next(6))
        {
            case 0:
                return ("{\"job\":{\"id\":1}," + text[1..], "duplicate top-level key");
            case 1:
                var at = text.IndexOf("\"config\":{", StringComparison.Ordinal);
                return at < 0
                    ? (text + "}", "trailing garbage")
                    : (text.Insert(at + 10, "\"language\":\"a\",\"language\":\"b\","), "duplicate config key");
            case 2:
                return (text[..random.Next(text.Length)], "truncated");
            case 3:
                var quote = text.IndexOf("\"fuzz/app\"", StringComparison.Ordinal);
                return quote < 0 ? ("\"\\ud800\"", "a bare unpaired surrogate") : (text.Insert(quote + 1, "\\udc00"), "unpaired surrogate");
            case 4:
                return (new string('[', 200) + new string(']', 200), "nested 200 deep");
            default:
                return (text.Replace("600", "1e400", StringComparison.Ordinal), "hard_limit 1e400");
        }
    }

    private static byte[] InvalidUtf8(byte[] bytes, Random random)
    {
        byte[][] broken = [[0xFF], [0xC3, 0x28], [0x80], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80]];
        var position = random.Next(bytes.Length + 1);
        return [.. bytes[..position], .. broken[random.Next(broken.Length)], .. bytes[position..]];
    }

    private static void Collect(JsonNode node, List<JsonNode> into)
    {
        into.Add(node);
        IEnumerable<JsonNode?> children = node switch
        {
            JsonObject obj => obj.Select(member => member.Value),
            JsonArray array => array,
            _ => [],
        };
        foreach (var child in children.OfType<JsonNode>())
        {
            Collect(child, into);
        }
    }

    private static void Replace(JsonNode target, JsonNode? value, bool delete = false)
    {
        switch (target.Parent)
        {
            case JsonObject parent:
                var name = target.GetPropertyName();
                if (delete)
                {
                    parent.Remove(name);
                }
                else
                {
                    parent[name] = value;
                }
                break;
            case JsonArray array:
                var index = target.GetElementIndex();
                if (delete)
                {
                    array.RemoveAt(index);
                }
                else
                {
                    array[index] = value;
                }
                break;
        }
    }
}
