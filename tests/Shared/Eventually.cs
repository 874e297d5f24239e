using Xunit;

namespace Worker.TestSupport;

/// <summary>
/// The one way tests wait for something to become true: poll a condition until it holds, and
/// fail with what was awaited (and whatever <c>explain</c> adds, such as a worker's output) when
/// the patience runs out or <c>gaveUp</c> says waiting is pointless. Tests assert properties, not
/// stopwatches, so the default patience is generous for a busy 2-core machine.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultPatience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The result of <paramref name="task"/>, which must come within the patience: a guard for a
    /// step that would otherwise wait far longer if the property under test did not hold (a job
    /// sleeping an hour that its timeout or cancel should end), not a measure of its speed.
    /// </summary>
    public static async Task<T> CompletesAsync<T>(Task<T> task, string what, TimeSpan? patience = null)
    {
        try
        {
            return await task.WaitAsync(patience ?? DefaultPatience);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"gave up waiting until {what}");
            throw;
        }
    }

    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? patience = null,
        Func<bool>? gaveUp = null, Func<string>? explain = null) =>
        TrueAsync(() => Task.FromResult(condition()), what, patience, gaveUp, explain);

    public static async Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? patience = null,
        Func<bool>? gaveUp = null, Func<string>? explain = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? DefaultPatience);
        var pause = TimeSpan.FromMilliseconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline || gaveUp?.Invoke() == true)
            {
                Assert.Fail($"gave up waiting until {what}\n{explain?.Invoke()}".TrimEnd());
            }
            await Task.Delay(pause);
            pause = TimeSpan.FromMilliseconds(Math.Min(250, pause.TotalMilliseconds * 1.5));
        }
    }
}
