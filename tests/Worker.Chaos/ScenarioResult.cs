namespace Worker.Chaos;

/// <summary>One row of the suite's table. <paramref name="Failures"/> empty: the scenario met its goal.</summary>
internal sealed record ScenarioResult(string Name, int Jobs, int Lost, int RunTwice, int DuplicateFinishes, TimeSpan Time, IReadOnlyList<string> Failures)
{
    public bool Passed => Failures.Count == 0;
}

/// <summary>A way of breaking the worker's world; <paramref name="isShort"/> runs a reduced version.</summary>
internal interface IScenario
{
    string Name { get; }
    Task<ScenarioResult> RunAsync(ChaosContext context, bool isShort);
}
