using System.Globalization;
using System.Text;

namespace Worker.Chaos;

/// <summary>The suite's results as a Markdown table, ready for README's reliability section.</summary>
internal static class Table
{
    public static string Of(IEnumerable<ScenarioResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| scenario | jobs | lost | run twice | duplicate finish states | time | goal met |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---|");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Jobs} | {r.Lost} | {r.RunTwice} | {r.DuplicateFinishes} | {r.Time.TotalSeconds:0} s | {(r.Passed ? "yes" : "no: " + string.Join("; ", r.Failures).Replace("|", "/", StringComparison.Ordinal))} |");
        }
        return text.ToString();
    }
}
