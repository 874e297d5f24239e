using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Composition;
using Worker.Core.Backends.Fake;
using Worker.Core.Configuration;
using Worker.Core.Queues;
using Worker.Http;

namespace Worker.Tests;

/// <summary>WORKER_HTTP_ADDR: how it is written, that the server is off without it, and what a taken port does.</summary>
public sealed class HttpServerStartTests
{
    [Theory]
    [InlineData("127.0.0.1:8080", "127.0.0.1", 8080)]
    [InlineData(":8080", null, 8080)]
    [InlineData("0.0.0.0:9000", "0.0.0.0", 9000)]
    [InlineData("[::1]:8080", "::1", 8080)]
    [InlineData("localhost:0", "localhost", 0)]
    public void Http_addr_takes_host_and_port_or_port_alone(string text, string? host, int port)
    {
        var options = HttpOptions.Load(SettingsSource.From(("WORKER_HTTP_ADDR", text)));

        Assert.Equal(new HttpListenAddress(host, port), options.Address);
        Assert.Equal(text, options.Address!.ToString());
    }

    [Theory]
    [InlineData("8080")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:http")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("::1:8080")]
    [InlineData("[not-an-ip]:8080")]
    [InlineData("bad host:8080")]
    public void Http_addr_that_is_not_host_and_port_stops_start_up_naming_the_variable(string text)
    {
        var e = Assert.Throws<InvalidSettingException>(() => HttpOptions.Load(SettingsSource.From(("TRAVIS_WORKER_HTTP_ADDR", text))));

        Assert.Equal("TRAVIS_WORKER_HTTP_ADDR", e.Variable);
        Assert.Contains(":8080", e.Allowed);
    }

    [Theory]
    [InlineData("127.0.0.1:0")]
    [InlineData("localhost:0")]
    [InlineData(":0")]
    public async Task The_server_answers_on_the_address_it_was_given_with_a_free_port_for_0(string text)
    {
        using var context = WorkerContext.Create(SettingsSource.From(), NullLoggerFactory.Instance);
        var pool = context.CreatePool(new InMemoryJobQueue(), new FakeBackend(new FakeOptions()));

        await using var server = await WorkerHttpServer.StartAsync(HttpOptions.Load(SettingsSource.From(("WORKER_HTTP_ADDR", text))),
            pool, "h", TimeSpan.FromSeconds(1), NullLoggerFactory.Instance);
        using var client = new HttpClient { BaseAddress = server!.Address };

        Assert.NotEqual(0, server.Address.Port);
        Assert.Equal("ok", (await client.GetStringAsync("/healthz")).Trim());
    }

    [Fact]
    public async Task Without_an_address_there_is_no_server()
    {
        var options = HttpOptions.Load(SettingsSource.From(("WORKER_HTTP_AUTH_TOKEN", "set-but-unused")));
        using var context = WorkerContext.Create(SettingsSource.From(), NullLoggerFactory.Instance);
        var pool = context.CreatePool(new InMemoryJobQueue(), new FakeBackend(new FakeOptions()));

        var server = await WorkerHttpServer.StartAsync(options, pool, "h", TimeSpan.FromSeconds(1), NullLoggerFactory.Instance);

        Assert.Null(options.Address);
        Assert.Null(server);
    }

    [Fact]
    public async Task A_port_that_is_taken_stops_start_up_with_one_line_naming_the_variable()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var settings = SettingsSource.From(("WORKER_HTTP_ADDR", $"127.0.0.1:{port}"));
        using var context = WorkerContext.Create(settings, NullLoggerFactory.Instance);
        var pool = context.CreatePool(new InMemoryJobQueue(), new FakeBackend(new FakeOptions()));

        var e = await Assert.ThrowsAsync<InvalidSettingException>(() =>
            WorkerHttpServer.StartAsync(HttpOptions.Load(settings), pool, "h", TimeSpan.FromSeconds(1), NullLoggerFactory.Instance));

        Assert.Equal("WORKER_HTTP_ADDR", e.Variable);
        Assert.Equal($"127.0.0.1:{port}", e.Value);
    }
}
