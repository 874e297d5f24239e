namespace Worker.Vm;

/// <summary>When a job's image is pulled before its clone (<c>_PULL</c>).</summary>
public enum VmPullPolicy
{
    /// <summary>Only when <c>list</c> does not show it.</summary>
    Missing,

    /// <summary>Not at all: a job whose image is not on this host is refused.</summary>
    Never,

    /// <summary>
    /// Before every clone of an OCI reference, present or not, so a tag that moved upstream is picked
    /// up (cirrus-cli's persistent worker does this). A failed pull of an image that is here falls back
    /// on the copy here; a local VM name is never pulled.
    /// </summary>
    Always,
}
