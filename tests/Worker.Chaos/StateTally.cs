using System.Text;
using System.Text.Json;
using RabbitMQ.Client;
using Worker.Amqp;

namespace Worker.Chaos;

/// <summary>
/// What travis-hub would see of the suite's jobs: a durable queue of its own bound to the state
/// updates, read with basic.get in a loop that reconnects, so it collects across broker restarts.
/// Identical copies of a message (an outbox sent it again, or a finish sent again for a redelivery)
/// count once: hub drops them by their content.
/// </summary>
internal sealed class StateTally : IAsyncDisposable
{
    private readonly ChaosBroker _broker;
    private readonly string _queue = "chaos-tap-" + Guid.NewGuid().ToString("N")[..8];
    private readonly Dictionary<long, JobStates> _jobs = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _reading = Task.CompletedTask;

    private StateTally(ChaosBroker broker) => _broker = broker;

    public static async Task<StateTally> StartAsync(ChaosBroker broker)
    {
        var tally = new StateTally(broker);
        await using (var connection = await broker.ConnectAsync())
        await using (var channel = await connection.CreateChannelAsync())
        {
            await channel.ExchangeDeclareAsync(AmqpNames.ReportingExchange, ExchangeType.Topic, durable: true);
            await channel.QueueDeclareAsync(tally._queue, durable: true, exclusive: false, autoDelete: false);
            await channel.QueueBindAsync(tally._queue, AmqpNames.ReportingExchange, AmqpNames.StateRoutingKey);
        }
        tally._reading = tally.ReadAsync();
        return tally;
    }

    public JobStates Of(long jobId)
    {
        lock (_jobs)
        {
            return _jobs.TryGetValue(jobId, out var states) ? states : new JobStates();
        }
    }

    /// <summary>How many of <paramref name="jobIds"/> have a finish state.</summary>
    public int Finished(IEnumerable<long> jobIds)
    {
        lock (_jobs)
        {
            return jobIds.Count(id => _jobs.TryGetValue(id, out var s) && s.Finishes.Count > 0);
        }
    }

    private async Task ReadAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _broker.ConnectAsync();
                await using var channel = await connection.CreateChannelAsync();
                while (!_stop.IsCancellationRequested)
                {
                    var message = await channel.BasicGetAsync(_queue, autoAck: true);
                    if (message is null)
                    {
                        await Task.Delay(200, _stop.Token);
                        continue;
                    }
                    Take(message.BasicProperties.Type, message.Body.ToArray());
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                await Task.Delay(500); // the broker is away: read again once it is back
            }
        }
    }

    private void Take(string? type, byte[] body)
    {
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        if (!root.TryGetProperty("id", out var id) || !id.TryGetInt64(out var jobId) || !root.TryGetProperty("state", out var state))
        {
            return;
        }
        var text = Encoding.UTF8.GetString(body);
        lock (_jobs)
        {
            if (!_jobs.TryGetValue(jobId, out var states))
            {
                _jobs[jobId] = states = new JobStates();
            }
            states.Take(type, state.GetString() ?? "", text);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reading;
        try
        {
            await using var connection = await _broker.ConnectAsync();
            await using var channel = await connection.CreateChannelAsync();
            await channel.QueueDeleteAsync(_queue);
        }
        catch (Exception)
        {
        }
        _stop.Dispose();
    }
}

/// <summary>The distinct state updates of one job: runs (started), finishes, and whether a run started after a finish.</summary>
internal sealed class JobStates
{
    private readonly HashSet<string> _seen = [];

    public List<string> Starts { get; } = [];
    public List<string> Finishes { get; } = [];

    /// <summary>A run started after the job's finish was reported: a finished job ran again.</summary>
    public bool StartedAfterFinish { get; private set; }

    public void Take(string? type, string state, string body)
    {
        if (!_seen.Add(body))
        {
            return;
        }
        if (state == "started")
        {
            StartedAfterFinish |= Finishes.Count > 0;
            Starts.Add(body);
        }
        else if (state is "passed" or "failed" or "errored" or "cancelled")
        {
            Finishes.Add(body);
        }
    }
}
