using System.Globalization;
using Worker.Core.Jobs;

namespace Worker.Core.Images;

/// <summary>
/// The body travis-worker's <c>api</c> selector posts to job-board's image search: one query a line,
/// each a set of tags an image must carry, the most specific first: all of the job's tags together,
/// then dist, group and language; dist and language; group and language; os and language; dist;
/// then each single tag among the images marked default; and last any default image. job-board
/// answers with the images of the first line that finds any.
/// </summary>
public static class JobBoardRequest
{
    /// <summary>The body's media type, as travis-worker sends it.</summary>
    public const string ContentType = "application/x-www-form-urlencoded; boundary=NL";

    /// <summary>One line of the body: images carrying all of <paramref name="Tags"/>, among the default ones only when <paramref name="IsDefault"/>.</summary>
    public sealed record TagSet(IReadOnlyList<string> Tags, bool IsDefault);

    /// <summary>The body: each line a query, each ending in a newline.</summary>
    /// <exception cref="JobRefusedException">A tag holds a comma, which would split it in two on the way.</exception>
    public static string Body(ImageQuery query) => string.Concat(CandidateTagSets(query).Select(set => Line(query, set) + "\n"));

    /// <summary>The tag sets asked for, in order; the last, without tags, asks for any default image.</summary>
    public static IReadOnlyList<TagSet> CandidateTagSets(ImageQuery query)
    {
        var language = Tag("language_{0}:true", query.Language);
        var dist = Tag("dist:{0}", query.Dist);
        var group = Tag("group_{0}:true", query.Group);
        var os = Tag("os:{0}", query.Os);
        var everyTag = new[] { language, dist, group, os }.OfType<string>().ToArray();
        var sets = new List<TagSet> { new(Sorted(everyTag), false) };
        void Ask(bool isDefault, params string?[] tags)
        {
            if (tags.All(t => t is not null))
            {
                sets.Add(new TagSet(Sorted(tags!), isDefault));
            }
        }
        Ask(false, dist, group, language);
        Ask(false, dist, language);
        Ask(false, group, language);
        Ask(false, os, language);
        Ask(false, dist);
        Ask(true, language);
        Ask(true, dist);
        Ask(true, group);
        Ask(true, os);
        sets.Add(new TagSet([], true));
        if (sets.SelectMany(s => s.Tags).FirstOrDefault(t => t.Contains(',', StringComparison.Ordinal)) is { } split)
        {
            throw new JobRefusedException(
                $"the job's image can't be looked up: its tag '{split}' holds a comma (a trailing comma in a .travis.yml value, such as 'dist: jammy,', leaves one)");
        }
        return sets;
    }

    /// <summary>One query, urlencoded with its keys in order as Go's url.Values writes them (job-board reads any order).</summary>
    private static string Line(ImageQuery query, TagSet set)
    {
        var fields = new List<(string Key, string Value)>
        {
            ("fields[images]", "name"),
            ("gpu_vm_type", query.GpuVmType),
            ("infra", query.Infra),
            ("is_default", set.IsDefault ? "true" : "false"),
            ("job_id", query.JobId.ToString(CultureInfo.InvariantCulture)),
            ("limit", "1"),
            ("repo", query.Repository ?? ""),
        };
        if (set.Tags.Count > 0)
        {
            fields.Add(("tags", string.Join(",", set.Tags)));
        }
        return string.Join("&", fields.Select(f => FormEscape(f.Key) + "=" + FormEscape(f.Value)));
    }

    /// <summary>Form encoding as Go's url.QueryEscape does it: every byte but letters, digits and <c>-_.~</c> escaped, a space as <c>+</c>.</summary>
    private static string FormEscape(string text) => Uri.EscapeDataString(text).Replace("%20", "+", StringComparison.Ordinal);

    private static string? Tag(string format, string? value) =>
        string.IsNullOrEmpty(value) ? null : string.Format(CultureInfo.InvariantCulture, format, value);

    private static string[] Sorted(IEnumerable<string> tags) => [.. tags.Order(StringComparer.Ordinal)];
}
