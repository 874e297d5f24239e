namespace Worker.Core.Images;

/// <summary>When a backend pulls a job's image from its registry (<c>WORKER_DOCKER_PULL</c>, <c>WORKER_TART_PULL</c>...).</summary>
public enum ImagePullPolicy
{
    /// <summary>Only an image this host does not have; one it has is used as it is.</summary>
    Missing,

    /// <summary>Never: a job whose image is not here is refused.</summary>
    Never,

    /// <summary>Before every machine made from it, so a tag moved in the registry (<c>:latest</c>) is taken at once; a failed pull of an image this host has uses the host's copy.</summary>
    Always,
}

/// <summary>The setting's words for <see cref="ImagePullPolicy"/>.</summary>
public static class ImagePullPolicies
{
    public static readonly string[] Names = ["missing", "never", "always"];

    public static ImagePullPolicy Parse(string name) => name switch
    {
        "never" => ImagePullPolicy.Never,
        "always" => ImagePullPolicy.Always,
        _ => ImagePullPolicy.Missing,
    };
}
