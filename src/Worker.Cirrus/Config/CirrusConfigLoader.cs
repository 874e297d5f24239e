using Worker.Cirrus.Security;
using Worker.Cirrus.Tasks;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Worker.Cirrus.Config;

/// <summary>
/// Reads cirrus-cli's worker file with its flags: the flags give the defaults, the file overrides them,
/// and any key cirrus-cli would not know stops start-up with a line naming it and where it is. Under
/// <c>standby</c>, which cirrus-cli reads with its lenient <c>.cirrus.yml</c> parser, such a key is
/// skipped with a warning instead (<see cref="StandbyParser"/>).
/// </summary>
public static class CirrusConfigLoader
{
    private static readonly string[] TopLevelKeys =
        ["name", "token", "labels", "resources", "log", "rpc", "upstreams", "security", "tuning", "standby", "resource-modifiers", "tart-pre-pull"];

    private static readonly string[] LogLevels = ["panic", "fatal", "error", "warn", "warning", "info", "debug", "trace"];

    /// <summary>Reads <paramref name="path"/> (none: the flags alone) and applies <paramref name="flags"/> as its defaults.</summary>
    public static CirrusWorkerConfig Load(string? path, CirrusFlags flags, string? hostName = null)
    {
        if (path is null)
        {
            return Parse("", "(flags)", flags, hostName);
        }
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CirrusConfigException($"{path}: can't read the worker file: {e.Message}");
        }
        return Parse(text, path, flags, hostName);
    }

    public static CirrusWorkerConfig Parse(string text, string fileName, CirrusFlags flags, string? hostName = null)
    {
        var yaml = new YamlSource(fileName);
        var root = LoadRoot(text, fileName);
        var top = root is null ? null : yaml.Mapping(root, "", TopLevelKeys);

        var warnings = new List<string>();
        var name = flags.Name ?? CirrusFlags.DefaultName(hostName ?? HostPlatform.HostName);
        var token = flags.Token ?? "";
        var labels = flags.LabelPairs();
        var resources = flags.ResourcePairs();
        var endpoint = flags.RpcEndpoint ?? CirrusWorkerConfig.DefaultRpcEndpoint;
        var log = new CirrusLogConfig();
        var upstreams = new List<CirrusUpstream>();
        var security = SecurityPolicy.AllowEverything;
        var mtu = 0;
        Api.StandbyInstanceParameters? standby = null;
        var modifiers = new List<ResourceModifierConfig>();
        TartPrePullConfig? prePull = null;

        if (top is not null)
        {
            if (top["name"] is { } n)
            {
                name = yaml.String(n, "name");
            }
            if (top["token"] is { } t)
            {
                token = yaml.String(t, "token");
            }
            if (top["labels"] is { } l)
            {
                foreach (var (key, value) in yaml.StringMap(l, "labels"))
                {
                    labels[key] = value;
                }
            }
            if (top["resources"] is { } r)
            {
                foreach (var (key, value) in yaml.DoubleMap(r, "resources"))
                {
                    resources[key] = value;
                }
            }
            if (top["log"] is { } logNode)
            {
                log = ParseLog(yaml, logNode);
            }
            if (top["rpc"] is { } rpcNode && yaml.Mapping(rpcNode, "rpc", "endpoint")?["endpoint"] is { } e)
            {
                endpoint = yaml.String(e, "rpc.endpoint");
            }
            if (top["upstreams"] is { } upstreamsNode)
            {
                upstreams.AddRange(ParseUpstreams(yaml, upstreamsNode));
            }
            if (top["security"] is { } securityNode)
            {
                security = ParseSecurity(yaml, securityNode);
            }
            if (top["tuning"] is { } tuningNode &&
                yaml.Mapping(tuningNode, "tuning", "vetu") is { } tuning &&
                tuning["vetu"] is { } vetuNode &&
                yaml.Mapping(vetuNode, "tuning.vetu", "mtu")?["mtu"] is { } mtuNode)
            {
                mtu = (int)yaml.Integer(mtuNode, "tuning.vetu.mtu", 0, 65535);
            }
            if (top["standby"] is { } standbyNode)
            {
                standby = StandbyParser.Parse(yaml, standbyNode, warnings);
            }
            if (top["resource-modifiers"] is { } modifiersNode)
            {
                modifiers.AddRange(ParseModifiers(yaml, modifiersNode));
            }
            if (top["tart-pre-pull"] is { } prePullNode)
            {
                prePull = ParsePrePull(yaml, prePullNode);
            }
        }

        if (upstreams.Count == 0)
        {
            upstreams.Add(new CirrusUpstream(token, endpoint.Length == 0 ? CirrusWorkerConfig.DefaultRpcEndpoint : endpoint));
        }
        else if (token.Length > 0)
        {
            throw new CirrusConfigException($"{fileName}: \"token:\" and \"endpoints:\" are mutually exclusive (each entry of upstreams has its own token)");
        }
        else if (endpoint != CirrusWorkerConfig.DefaultRpcEndpoint)
        {
            throw new CirrusConfigException($"{fileName}: \"rpc:\" and \"endpoints:\" are mutually exclusive (each entry of upstreams has its own endpoint)");
        }
        if (name.Length == 0)
        {
            throw new CirrusConfigException($"{fileName}: the worker needs a name (name: in the file, or --name)");
        }
        if (upstreams.Any(u => u.Token.Length == 0))
        {
            throw new CirrusConfigException($"{fileName}: the worker needs a registration token (token: in the file, or --token)");
        }
        foreach (var reserved in WorkerLabels.Reserved.Where(labels.ContainsKey))
        {
            warnings.Add($"label '{reserved}' from the configuration replaces the one the worker reports itself ({string.Join(", ", WorkerLabels.Reserved)} are set by the worker)");
        }

        return new CirrusWorkerConfig
        {
            Name = name,
            Token = token,
            Labels = labels,
            Resources = resources,
            Log = log,
            RpcEndpoint = endpoint,
            Upstreams = upstreams,
            Security = security,
            VetuMtu = mtu,
            Standby = standby,
            ResourceModifiers = modifiers,
            TartPrePull = prePull,
            Warnings = warnings,
        };
    }

    private static YamlNode? LoadRoot(string text, string fileName)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new CirrusConfigException($"{fileName}:{e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
        }
        return stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
    }

    private static CirrusLogConfig ParseLog(YamlSource yaml, YamlNode node)
    {
        var log = yaml.Mapping(node, "log", "level", "file", "rotate-size", "max-rotations");
        if (log is null)
        {
            return new CirrusLogConfig();
        }
        string? level = null;
        if (log["level"] is { } levelNode)
        {
            level = yaml.String(levelNode, "log.level");
            if (level.Length > 0 && !LogLevels.Contains(level.ToLowerInvariant()))
            {
                throw yaml.Error(levelNode, $"'log.level' must be one of {string.Join(", ", LogLevels)}, got '{level}'");
            }
        }
        long? rotateSize = null;
        if (log["rotate-size"] is { } sizeNode && yaml.String(sizeNode, "log.rotate-size") is { Length: > 0 } sizeText)
        {
            rotateSize = Sizes.TryParseHumanBytes(sizeText, out var bytes)
                ? bytes
                : throw yaml.Error(sizeNode, $"'log.rotate-size' must be a size such as \"100 MB\", got '{sizeText}'");
        }
        return new CirrusLogConfig(
            level is { Length: > 0 } ? level : null,
            log["file"] is { } f && yaml.String(f, "log.file") is { Length: > 0 } file ? file : null,
            rotateSize,
            log["max-rotations"] is { } m ? (uint)yaml.Integer(m, "log.max-rotations", 0, uint.MaxValue) : 0);
    }

    private static IEnumerable<CirrusUpstream> ParseUpstreams(YamlSource yaml, YamlNode node)
    {
        var items = yaml.Sequence(node, "upstreams");
        for (var i = 0; i < items.Count; i++)
        {
            var at = $"upstreams[{i}]";
            var upstream = yaml.Mapping(items[i], at, "token", "endpoint");
            var token = upstream?["token"] is { } t ? yaml.String(t, $"{at}.token") : "";
            var endpoint = upstream?["endpoint"] is { } e ? yaml.String(e, $"{at}.endpoint") : "";
            yield return new CirrusUpstream(token, endpoint.Length == 0 ? CirrusWorkerConfig.DefaultRpcEndpoint : endpoint);
        }
    }

    private static SecurityPolicy ParseSecurity(YamlSource yaml, YamlNode node)
    {
        var security = yaml.Mapping(node, "security", "allowed-isolations");
        if (security?["allowed-isolations"] is not { } allowedNode)
        {
            return SecurityPolicy.AllowEverything;
        }
        const string path = "security.allowed-isolations";
        var allowed = yaml.Mapping(allowedNode, path, "none", "container", "parallels", "tart", "vetu");
        if (allowed is null)
        {
            return SecurityPolicy.AllowEverything;
        }
        var policies = new Dictionary<IsolationKind, IsolationPolicy>();
        foreach (var kind in Enum.GetValues<IsolationKind>())
        {
            var key = kind.KeyName();
            if (allowed[key] is not { } policyNode || YamlSource.IsNull(policyNode))
            {
                // cirrus-cli decodes "tart:" with no value to a nil policy: not allowed.
                continue;
            }
            policies[kind] = ParseIsolationPolicy(yaml, policyNode, $"{path}.{key}", kind);
        }
        return new SecurityPolicy { AllowedIsolations = policies };
    }

    private static IsolationPolicy ParseIsolationPolicy(YamlSource yaml, YamlNode node, string path, IsolationKind kind)
    {
        string[] known = kind switch
        {
            IsolationKind.Tart => ["allowed-images", "allowed-volumes", "force-softnet", "softnet-allow"],
            IsolationKind.Vetu => ["allowed-images"],
            // Beyond cirrus-cli (which checks nothing for containers): the same image and volume rules as tart.
            IsolationKind.Container => ["allowed-images", "allowed-volumes"],
            _ => [],
        };
        var policy = yaml.Mapping(node, path, known)!;
        var volumes = new List<AllowedVolume>();
        if (policy["allowed-volumes"] is { } volumesNode)
        {
            var items = yaml.Sequence(volumesNode, $"{path}.allowed-volumes");
            for (var i = 0; i < items.Count; i++)
            {
                var at = $"{path}.allowed-volumes[{i}]";
                var volume = yaml.Mapping(items[i], at, "source", "force-readonly");
                volumes.Add(new AllowedVolume(
                    volume?["source"] is { } s ? yaml.String(s, $"{at}.source") : "",
                    volume?["force-readonly"] is { } f && yaml.Bool(f, $"{at}.force-readonly")));
            }
        }
        return new IsolationPolicy(
            policy["allowed-images"] is { } images ? yaml.Strings(images, $"{path}.allowed-images") : [],
            volumes,
            policy["force-softnet"] is { } force && yaml.Bool(force, $"{path}.force-softnet"),
            policy["softnet-allow"] is { } allow ? yaml.Strings(allow, $"{path}.softnet-allow") : []);
    }

    private static IEnumerable<ResourceModifierConfig> ParseModifiers(YamlSource yaml, YamlNode node)
    {
        var items = yaml.Sequence(node, "resource-modifiers");
        for (var i = 0; i < items.Count; i++)
        {
            var at = $"resource-modifiers[{i}]";
            var modifier = yaml.Mapping(items[i], at, "match", "append");
            var match = modifier?["match"] is { } m ? yaml.DoubleMap(m, $"{at}.match") : [];
            IReadOnlyList<string> run = [];
            if (modifier?["append"] is { } appendNode && yaml.Mapping(appendNode, $"{at}.append", "run")?["run"] is { } runNode)
            {
                run = yaml.Strings(runNode, $"{at}.append.run");
            }
            yield return new ResourceModifierConfig(match, run);
        }
    }

    private static TartPrePullConfig? ParsePrePull(YamlSource yaml, YamlNode node)
    {
        var prePull = yaml.Mapping(node, "tart-pre-pull", "images", "check-interval", "jitter");
        if (prePull is null)
        {
            return null;
        }
        return new TartPrePullConfig(
            prePull["images"] is { } images ? yaml.Strings(images, "tart-pre-pull.images") : [],
            prePull["check-interval"] is { } interval ? yaml.Duration(interval, "tart-pre-pull.check-interval") : TimeSpan.Zero,
            prePull["jitter"] is { } jitter ? yaml.Duration(jitter, "tart-pre-pull.jitter") : TimeSpan.Zero);
    }
}
