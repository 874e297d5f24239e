using Worker.Cirrus.Api;
using YamlDotNet.RepresentationModel;

namespace Worker.Cirrus.Config;

/// <summary>
/// <c>standby</c>: the isolation in <c>.cirrus.yml</c> syntax (tart or vetu only), the resources it
/// holds and its warm-up. Parsed into the message the server would send in
/// <c>updated_standby_instances</c>, so the two compare as cirrus-cli compares them. cirrus-cli
/// reads it with its <c>.cirrus.yml</c> parser, which skips keys it doesn't know (e.g. tart's
/// <c>disk_size</c> or <c>nested</c>): such a key is taken here too, with a line in the warnings.
/// </summary>
internal static class StandbyParser
{
    private const string DefaultCredential = "admin";

    public static StandbyInstanceParameters Parse(YamlSource yaml, YamlNode node, ICollection<string> warnings)
    {
        var standby = yaml.LenientMapping(node, "standby", warnings, "isolation", "resources", "warmup")
            ?? throw yaml.Error(node, "'standby' needs an isolation (tart or vetu)");
        var result = new StandbyInstanceParameters();
        if (standby["isolation"] is not { } isolationNode || YamlSource.IsNull(isolationNode))
        {
            throw yaml.Error(standby.Node, "'standby.isolation' is required (tart or vetu)");
        }
        result.Isolation = ParseIsolation(yaml, isolationNode, warnings);
        if (standby["resources"] is { } resources)
        {
            result.Resources.Add(yaml.DoubleMap(resources, "standby.resources"));
        }
        if (standby["warmup"] is { } warmupNode && yaml.LenientMapping(warmupNode, "standby.warmup", warnings, "script", "timeout") is { } warmup)
        {
            result.Warmup = new StandbyInstanceParameters.Types.Warmup
            {
                Script = warmup["script"] is { } s ? yaml.String(s, "standby.warmup.script") : "",
                TimeoutSeconds = warmup["timeout"] is { } t ? (ulong)yaml.Duration(t, "standby.warmup.timeout").TotalSeconds : 0,
            };
        }
        return result;
    }

    private static Isolation ParseIsolation(YamlSource yaml, YamlNode node, ICollection<string> warnings)
    {
        var isolation = yaml.LenientMapping(node, "standby.isolation", warnings, "none", "container", "parallels", "tart", "vetu")!;
        var kinds = isolation.Keys.ToList();
        if (kinds.Count != 1 || (kinds[0] != "tart" && kinds[0] != "vetu"))
        {
            throw yaml.Error(node, $"'standby.isolation' must be exactly one of tart or vetu (only they can be kept warm), got {(kinds.Count == 0 ? "nothing" : string.Join(", ", kinds))}");
        }
        return kinds[0] == "tart"
            ? new Isolation { Tart = ParseTart(yaml, isolation["tart"]!, warnings) }
            : new Isolation { Vetu = ParseVetu(yaml, isolation["vetu"]!, warnings) };
    }

    private static Isolation.Types.Tart ParseTart(YamlSource yaml, YamlNode node, ICollection<string> warnings)
    {
        const string path = "standby.isolation.tart";
        var tart = new Isolation.Types.Tart { User = DefaultCredential, Password = DefaultCredential };
        var keys = yaml.LenientMapping(node, path, warnings, "image", "user", "password", "port", "cpu", "memory", "softnet", "display", "volumes");
        if (keys is null)
        {
            return tart;
        }
        ReadVm(yaml, keys, path, image => tart.Image = image, user => tart.User = user, password => tart.Password = password,
            port => tart.Port = port, cpu => tart.Cpu = cpu, memory => tart.Memory = memory);
        if (keys["softnet"] is { } softnet)
        {
            tart.Softnet = yaml.Bool(softnet, $"{path}.softnet");
        }
        if (keys["display"] is { } display)
        {
            tart.Display = yaml.String(display, $"{path}.display");
        }
        if (keys["volumes"] is { } volumes)
        {
            var list = yaml.Sequence(volumes, $"{path}.volumes");
            for (var i = 0; i < list.Count; i++)
            {
                var at = $"{path}.volumes[{i}]";
                var volume = yaml.LenientMapping(list[i], at, warnings, "name", "source", "target", "readonly");
                if (volume?["source"] is not { } source)
                {
                    throw yaml.Error(list[i], $"'{at}.source' is required");
                }
                tart.Volumes.Add(new Isolation.Types.Tart.Types.Volume
                {
                    Name = volume["name"] is { } n ? yaml.String(n, $"{at}.name") : "",
                    Source = yaml.String(source, $"{at}.source"),
                    Target = volume["target"] is { } t ? yaml.String(t, $"{at}.target") : "",
                    ReadOnly = volume["readonly"] is { } r && yaml.Bool(r, $"{at}.readonly"),
                });
            }
        }
        return tart;
    }

    private static Isolation.Types.Vetu ParseVetu(YamlSource yaml, YamlNode node, ICollection<string> warnings)
    {
        const string path = "standby.isolation.vetu";
        var vetu = new Isolation.Types.Vetu { User = DefaultCredential, Password = DefaultCredential };
        var keys = yaml.LenientMapping(node, path, warnings, "image", "user", "password", "port", "cpu", "memory", "networking", "disk_size");
        if (keys is null)
        {
            return vetu;
        }
        ReadVm(yaml, keys, path, image => vetu.Image = image, user => vetu.User = user, password => vetu.Password = password,
            port => vetu.Port = port, cpu => vetu.Cpu = cpu, memory => vetu.Memory = memory);
        if (keys["networking"] is { } networkingNode)
        {
            var networking = yaml.LenientMapping(networkingNode, $"{path}.networking", warnings, "host");
            if (networking is null || !networking.Has("host"))
            {
                throw yaml.Error(networkingNode, $"'{path}.networking' must be host: {{}} (cirrus-cli's standby takes no other networking)");
            }
            vetu.Host = new Isolation.Types.Vetu.Types.Host();
        }
        if (keys["disk_size"] is { } disk)
        {
            vetu.DiskSize = (uint)yaml.Integer(disk, $"{path}.disk_size", 0, uint.MaxValue);
        }
        return vetu;
    }

    private static void ReadVm(YamlSource yaml, StrictMapping keys, string path,
        Action<string> image, Action<string> user, Action<string> password, Action<uint> port, Action<uint> cpu, Action<uint> memory)
    {
        if (keys["image"] is { } i)
        {
            image(yaml.String(i, $"{path}.image"));
        }
        if (keys["user"] is { } u)
        {
            user(yaml.String(u, $"{path}.user"));
        }
        if (keys["password"] is { } p)
        {
            password(yaml.String(p, $"{path}.password"));
        }
        if (keys["port"] is { } portNode)
        {
            port((uint)yaml.Integer(portNode, $"{path}.port", 0, 65535));
        }
        if (keys["cpu"] is { } c)
        {
            cpu((uint)yaml.Integer(c, $"{path}.cpu", 0, uint.MaxValue));
        }
        if (keys["memory"] is { } m)
        {
            var text = yaml.String(m, $"{path}.memory");
            memory(Sizes.TryParseMegabytes(text, out var mb)
                ? mb
                : throw yaml.Error(m, $"'{path}.memory' must be megabytes such as 16384, 16G or 512M, got '{text}'"));
        }
    }
}
