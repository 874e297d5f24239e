using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Web;

namespace Worker.TestSupport;

/// <summary>
/// travis's job-board image search (<c>POST /images/search</c>) on a loopback port, as job-board answers
/// it: each line of the body is a urlencoded query (infra, tags, is_default, limit, fields[images]);
/// the first line that finds images answers <c>{"data":[{"name":...}],"meta":{...}}</c>, newest image
/// first, and no line finding any answers empty data. It can fail first with the statuses queued in
/// <see cref="Failures"/>, or stay down (<see cref="Down"/>: 500 to everything).
/// </summary>
internal sealed class FakeJobBoard : IDisposable
{
    private readonly LoopbackHttpServer _server;
    private readonly List<Image> _images = [];

    public FakeJobBoard()
    {
        _server = new LoopbackHttpServer(AnswerAsync);
        Url = new Uri(_server.BaseUri, "images/search");
    }

    /// <summary>An image job-board knows, with its tags (<c>language_ruby:true</c>, <c>dist:xenial</c>).</summary>
    public sealed record Image(string Name, string Infra, bool IsDefault, IReadOnlyList<string> Tags);

    /// <summary>A request as it arrived.</summary>
    public sealed record Request(string Method, string Path, string? ContentType, string? Authorization, string Body)
    {
        /// <summary>The body's lines, as travis-worker wrote them (each ends in a newline, so the last is empty and left out).</summary>
        public IReadOnlyList<string> Lines => Body.EndsWith('\n') ? Body[..^1].Split('\n') : Body.Split('\n');
    }

    public Uri Url { get; }

    /// <summary>The search URL with credentials in it, as an operator writes them.</summary>
    public Uri UrlWith(string user, string password) => new UriBuilder(Url) { UserName = user, Password = password }.Uri;

    public ConcurrentQueue<Request> Requests { get; } = new();

    /// <summary>Statuses answered, in order, before the search is.</summary>
    public ConcurrentQueue<int> Failures { get; } = new();

    /// <summary>Every request gets a 500, as a job-board whose database is gone.</summary>
    public bool Down { get; set; }

    /// <summary>Registers an image, newer than those before it.</summary>
    public void Add(string name, string infra, bool isDefault = false, params string[] tags)
    {
        lock (_images)
        {
            _images.Add(new Image(name, infra, isDefault, tags));
        }
    }

    public void Dispose() => _server.Dispose();

    private async Task AnswerAsync(HttpListenerContext context)
    {
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var request = new Request(context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.Headers["Content-Type"],
            context.Request.Headers["Authorization"], await reader.ReadToEndAsync());
        Requests.Enqueue(request);
        var (status, body) = Down ? (500, "{\"error\":\"database gone\"}")
            : Failures.TryDequeue(out var failure) ? (failure, "{\"error\":\"try later\"}")
            : (200, Search(request.Lines));
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(body));
    }

    /// <summary>job-board's ImageSearcher: the first line whose query finds images answers, with the fields it asks for.</summary>
    private string Search(IEnumerable<string> lines)
    {
        foreach (var line in lines)
        {
            var query = HttpUtility.ParseQueryString(line);
            if (string.IsNullOrEmpty(query["infra"]))
            {
                continue;
            }
            var tags = (query["tags"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
            var onlyDefault = query["is_default"] == "true";
            var limit = int.Parse(query["limit"] ?? "1", System.Globalization.CultureInfo.InvariantCulture);
            List<Image> found;
            lock (_images)
            {
                found = [.. _images.AsEnumerable().Reverse()
                    .Where(i => i.Infra == query["infra"] && (!onlyDefault || i.IsDefault) && tags.All(i.Tags.Contains))
                    .Take(limit)];
            }
            if (found.Count > 0)
            {
                return JsonSerializer.Serialize(new
                {
                    data = found.Select(i => new { name = i.Name }),
                    meta = new { limit, matching_query = line },
                });
            }
        }
        return "{\"data\":[],\"meta\":{\"limit\":1}}";
    }
}
