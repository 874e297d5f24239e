namespace Worker.Vm;

/// <summary>The guest OS names Tart reports (<c>get --format json</c>'s <c>OS</c>).</summary>
public static class GuestOs
{
    public const string Linux = "linux";
    public const string Darwin = "darwin";
}
