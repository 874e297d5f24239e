using Worker.Core.Logs;

namespace Worker.Core.Tests;

public sealed class JobLogWriterTests
{
    private static JobLogWriter Writer(RecordingPartSink sink, params string[] secrets) =>
        new(sink, 42, secrets, maxLength: 1 << 20, maxPartSize: 1000, flushInterval: TimeSpan.FromHours(1));

    [Fact]
    public async Task A_worker_message_written_while_a_secret_is_half_received_does_not_release_it()
    {
        var sink = new RecordingPartSink();
        await using var log = Writer(sink, "hunter2");

        await log.WriteAsync("password: hunt");
        await log.WriteWorkerMessageAsync("\n[worker] still running\n");
        await log.WriteAsync("er2\n");
        await log.CloseAsync(CancellationToken.None);

        // The held-back half follows the message and is masked with the rest of the secret.
        Assert.Equal("password: \n[worker] still running\n[secure]\n", sink.Text);
    }

    [Fact]
    public async Task A_worker_message_is_masked_whole()
    {
        var sink = new RecordingPartSink();
        await using var log = Writer(sink, "hunter2");

        await log.WriteWorkerMessageAsync("the script printed hunter2\n");
        await log.CloseAsync(CancellationToken.None);

        Assert.Equal("the script printed [secure]\n", sink.Text);
    }

    [Fact]
    public async Task Output_held_back_for_a_secret_that_never_came_is_written_at_the_close()
    {
        var sink = new RecordingPartSink();
        await using var log = Writer(sink, "hunter2");

        await log.WriteAsync("hunting");
        await log.WriteAsync(" hun");
        await log.CloseAsync(CancellationToken.None);

        Assert.Equal("hunting hun", sink.Text);
    }
}
