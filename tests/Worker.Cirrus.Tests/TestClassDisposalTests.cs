using System.Reflection;

namespace Worker.Cirrus.Tests;

/// <summary>
/// xunit 2 disposes a test class through <see cref="IDisposable"/> or <see cref="IAsyncLifetime"/> only:
/// a class that cleans up in <see cref="IAsyncDisposable.DisposeAsync"/> alone leaves its worker processes running.
/// </summary>
public sealed class TestClassDisposalTests
{
    [Fact]
    public void No_test_class_relies_on_IAsyncDisposable_alone_for_its_clean_up()
    {
        var undisposed = typeof(TestClassDisposalTests).Assembly.GetTypes()
            .Where(type => type.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>().Any()))
            .Where(type => typeof(IAsyncDisposable).IsAssignableFrom(type)
                           && !typeof(IAsyncLifetime).IsAssignableFrom(type) && !typeof(IDisposable).IsAssignableFrom(type))
            .Select(type => type.Name);

        Assert.Empty(undisposed);
    }
}
