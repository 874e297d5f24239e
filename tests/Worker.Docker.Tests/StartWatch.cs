using System.Reflection;
using System.Runtime.ExceptionServices;
using Docker.DotNet;

namespace Worker.Docker.Tests;

/// <summary>
/// The real engine client with one thing added: just before a container is started, its id goes to
/// the test, which can then look at what the engine made of the create, also when the engine goes
/// on to refuse the start. Every call still goes to the real engine.
/// </summary>
public class StartWatch : DispatchProxy
{
    private object _inner = null!;
    private Func<string, Task>? _beforeStart;
    private IContainerOperations? _containers;

    public static IDockerClient Around(IDockerClient client, Func<string, Task> beforeStart)
    {
        var containers = Create<IContainerOperations, StartWatch>();
        var watch = (StartWatch)(object)containers;
        watch._inner = client.Containers;
        watch._beforeStart = beforeStart;
        var proxy = Create<IDockerClient, StartWatch>();
        var outer = (StartWatch)(object)proxy;
        outer._inner = client;
        outer._containers = containers;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (_containers is not null && targetMethod.Name == "get_" + nameof(IDockerClient.Containers))
        {
            return _containers;
        }
        if (_beforeStart is not null && targetMethod.Name == nameof(IContainerOperations.StartContainerAsync))
        {
            return StartAsync((string)args![0]!, () => (Task<bool>)Forward(targetMethod, args)!);
        }
        return Forward(targetMethod, args);
    }

    private async Task<bool> StartAsync(string id, Func<Task<bool>> start)
    {
        await _beforeStart!(id);
        return await start();
    }

    private object? Forward(MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}
