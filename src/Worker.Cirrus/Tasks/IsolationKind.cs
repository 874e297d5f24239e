using Worker.Cirrus.Api;

namespace Worker.Cirrus.Tasks;

/// <summary>The isolations a Cirrus task can ask for; the key under <c>security.allowed-isolations</c> is the lower-case name.</summary>
public enum IsolationKind
{
    None,
    Container,
    Parallels,
    Tart,
    Vetu,
}

public static class IsolationKinds
{
    public static string KeyName(this IsolationKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>The task's isolation; a task without one runs with <c>none</c>, as in cirrus-cli. An isolation
    /// whose type this worker does not know is null.</summary>
    public static IsolationKind? Of(Isolation? isolation) => isolation?.TypeCase switch
    {
        null => IsolationKind.None,
        Isolation.TypeOneofCase.None => null,
        Isolation.TypeOneofCase.None_ => IsolationKind.None,
        Isolation.TypeOneofCase.Container => IsolationKind.Container,
        Isolation.TypeOneofCase.Parallels => IsolationKind.Parallels,
        Isolation.TypeOneofCase.Tart => IsolationKind.Tart,
        Isolation.TypeOneofCase.Vetu => IsolationKind.Vetu,
        _ => null,
    };
}
