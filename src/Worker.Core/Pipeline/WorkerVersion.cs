using System.Reflection;

namespace Worker.Core.Pipeline;

public static class WorkerVersion
{
    public static string Text { get; } =
        typeof(WorkerVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
}
