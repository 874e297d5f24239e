using System.Text.Json.Nodes;
using Worker.Core.Configuration;
using Worker.Core.Jobs;
using Worker.Core.Scripts;

namespace Worker.Core.Tests;

/// <summary>The script from a travis-build compatible API, asked for as travis-worker asks.</summary>
public sealed class HttpScriptGeneratorTests
{
    private static readonly JobPayload Payload = JobFile.Parse("id: 4711\nlanguage: ruby\nscript: [\"rake\"]", "test");

    [Fact]
    public async Task The_payload_goes_with_travis_workers_additions_query_and_token_and_the_script_comes_back()
    {
        using var build = new FakeTravisBuild();
        using var http = new HttpClient();
        var options = BuildApiOptions.Load(SettingsSource.From(
            ("TRAVIS_WORKER_BUILD_APT_CACHE", "http://apt-cache.internal:3142"), ("WORKER_BUILD_PARANOID", "true"),
            ("WORKER_BUILD_FIX_RESOLV_CONF", "true"), ("WORKER_BUILD_CACHE_TYPE", "s3"), ("WORKER_BUILD_CACHE_FETCH_TIMEOUT", "10m"),
            ("WORKER_BUILD_CACHE_S3_BUCKET", "ci-cache"), ("WORKER_BUILD_CACHE_S3_SECRET_ACCESS_KEY", "s3cr3t")));
        var endpoint = new UriBuilder(build.Uri) { UserName = "build-token" }.Uri;

        var script = await new HttpScriptGenerator(http, endpoint, options).GenerateAsync(Payload, CancellationToken.None);

        Assert.Equal("#!/bin/bash\necho from travis-build\n", script);
        var request = Assert.Single(build.Requests);
        Assert.Equal("/script?job_id=4711&source=worker", request.PathAndQuery);
        Assert.Equal("token build-token", request.Authorization);
        Assert.StartsWith("worker-dotnet/", request.UserAgent);
        Assert.StartsWith("application/json", request.ContentType);
        var body = JsonNode.Parse(request.Body)!;
        Assert.Equal(4711, body["job"]!["id"]!.GetValue<long>());
        Assert.Equal("ruby", body["config"]!["language"]!.GetValue<string>());
        Assert.Equal("http://apt-cache.internal:3142", body["hosts"]!["apt_cache"]!.GetValue<string>());
        Assert.True(body["paranoid"]!.GetValue<bool>());
        Assert.True(body["fix_resolv_conf"]!.GetValue<bool>());
        Assert.False(body["fix_etc_hosts"]!.GetValue<bool>());
        Assert.Equal("s3", body["cache_options"]!["type"]!.GetValue<string>());
        Assert.Equal(600, body["cache_options"]!["fetch_timeout"]!.GetValue<int>());
        Assert.Equal(300, body["cache_options"]!["push_timeout"]!.GetValue<int>());
        Assert.Equal("ci-cache", body["cache_options"]!["s3"]!["bucket"]!.GetValue<string>());
        Assert.Equal("s3cr3t", body["cache_options"]!["s3"]!["secret_access_key"]!.GetValue<string>());
        Assert.Null(Payload.Root["paranoid"]); // the job's own payload is left as it was
    }

    [Fact]
    public async Task Without_a_cache_type_no_cache_options_are_sent()
    {
        using var build = new FakeTravisBuild();
        using var http = new HttpClient();

        await new HttpScriptGenerator(http, build.Uri).GenerateAsync(Payload, CancellationToken.None);

        var body = JsonNode.Parse(Assert.Single(build.Requests).Body)!;
        Assert.Null(body["cache_options"]);
        Assert.Null(body["hosts"]);
        Assert.False(body["paranoid"]!.GetValue<bool>());
        Assert.Null(Assert.Single(build.Requests).Authorization);
    }

    [Fact]
    public async Task Server_errors_are_retried_and_a_client_error_refuses_the_job()
    {
        using var build = new FakeTravisBuild();
        using var http = new HttpClient();
        build.Failures.Enqueue(503);
        build.Failures.Enqueue(500);

        var script = await new HttpScriptGenerator(http, build.Uri).GenerateAsync(Payload, CancellationToken.None);
        build.Failures.Enqueue(422);
        var refused = await Assert.ThrowsAsync<ScriptGenerationException>(() => new HttpScriptGenerator(http, build.Uri).GenerateAsync(Payload, CancellationToken.None));

        Assert.Contains("from travis-build", script);
        Assert.Contains("refused the job", refused.Message);
        Assert.Contains("422", refused.Message);
        Assert.Equal(4, build.Requests.Count);
    }
}
