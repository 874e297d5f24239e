using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Worker.Amqp;

/// <summary>
/// Publishes messages in the order they were handed in, each confirmed by the broker, over one
/// channel of its own. Messages wait in a bounded outbox (bytes) from hand-in until their confirm;
/// writers wait when it is full. Publishes are pipelined: the pump doesn't wait for each confirm,
/// it tracks sequence numbers itself (confirm tracking off), which keeps strict order and a full
/// pipe. When the channel or connection fails, every unconfirmed message is sent again, in order,
/// on a new channel once the connection is back, so an outage loses and reorders nothing. A
/// mandatory message the broker returns unrouted (its queue was deleted) is not confirmed: its
/// queue is declared again and it is sent again.
/// </summary>
public sealed class ConfirmedPublisher : IAsyncDisposable
{
    private const int MaxInFlight = 1024;
    private static readonly TimeSpan ReturnPause = TimeSpan.FromSeconds(1);

    private readonly IConnection _connection;
    private readonly long _capacity;
    private readonly ILogger _logger;
    private readonly string _purpose;
    private readonly object _lock = new();
    private readonly LinkedList<OutgoingMessage> _pending = new();
    private readonly LinkedList<(ulong Seq, OutgoingMessage Message)> _inFlight = new();
    // Synchronous continuations: a writer that wakes an idle pump publishes its message on its own
    // thread, which saves a thread hop per message; confirms wake the pump through the thread pool.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        AllowSynchronousContinuations = true,
        SingleReader = true,
    });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;
    private TaskCompletionSource _spaceFreed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _emptied = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _used;
    private int _generation;

    public ConfirmedPublisher(IConnection connection, long capacityBytes, string purpose, ILogger logger)
    {
        _connection = connection;
        _capacity = capacityBytes;
        _purpose = purpose;
        _logger = logger;
        _emptied.TrySetResult();
        _pump = Task.Run(PumpAsync);
        AmqpTelemetry.Watch(this);
    }

    /// <summary>What this publisher carries (state, log, state and log), for its metrics.</summary>
    public string Purpose => _purpose;

    /// <summary>Messages held (waiting or unconfirmed), their bytes, and those published but not confirmed.</summary>
    public readonly record struct Depth(int Messages, long Bytes, int Unconfirmed);

    public Depth Measure()
    {
        lock (_lock)
        {
            return new Depth(_pending.Count + _inFlight.Count, _used, _inFlight.Count);
        }
    }

    /// <summary>
    /// Hands a message in; returns once it is in the outbox (waiting while the outbox is full).
    /// The returned task completes when the broker confirmed it. Cancelling the wait leaves
    /// nothing behind: the message is either in the outbox or not.
    /// </summary>
    public ValueTask<Task> EnqueueAsync(OutgoingMessage message, CancellationToken ct) => EnqueueAsync(message, sendNow: true, ct);

    /// <param name="message">The message.</param>
    /// <param name="sendNow">
    /// False: the message waits in the outbox for the next one handed in to be sent (or for
    /// <see cref="SendHeld"/>), so the two go out in one write and the broker confirms them together.
    /// </param>
    /// <param name="ct">Gives up waiting for room in the outbox.</param>
    public async ValueTask<Task> EnqueueAsync(OutgoingMessage message, bool sendNow, CancellationToken ct)
    {
        while (true)
        {
            Task spaceFreed;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
                // An empty outbox takes any message, so one larger than the capacity can't wait forever.
                if (_used == 0 || _used + message.Size <= _capacity)
                {
                    if (_used == 0)
                    {
                        _emptied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }
                    _used += message.Size;
                    _pending.AddLast(message);
                    spaceFreed = Task.CompletedTask;
                }
                else
                {
                    spaceFreed = _spaceFreed.Task;
                }
            }
            if (spaceFreed.IsCompleted)
            {
                if (sendNow)
                {
                    SendHeld();
                }
                return message.Confirmed;
            }
            await spaceFreed.WaitAsync(ct);
        }
    }

    /// <summary>Sends what waits in the outbox, a message held back included.</summary>
    public void SendHeld() => _wake.Writer.TryWrite(true); // outside the lock: the pump may run on this thread now

    /// <summary>
    /// Completes when everything handed in so far is confirmed (or <paramref name="ct"/> gives up);
    /// a message held back goes now, as nothing may come to take it along.
    /// </summary>
    public Task WhenEmptyAsync(CancellationToken ct)
    {
        SendHeld();
        lock (_lock)
        {
            return _emptied.Task.WaitAsync(ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        AmqpTelemetry.Forget(this);
        await _stop.CancelAsync();
        try
        {
            await _pump;
        }
        catch (OperationCanceledException)
        {
        }
        lock (_lock)
        {
            var gone = new ObjectDisposedException(nameof(ConfirmedPublisher), $"the {_purpose} publisher was closed before the broker confirmed the message");
            foreach (var (_, message) in _inFlight)
            {
                message.Abandon(gone);
            }
            foreach (var message in _pending)
            {
                message.Abandon(gone);
            }
            _inFlight.Clear();
            _pending.Clear();
        }
        _stop.Dispose();
    }

    private async Task PumpAsync()
    {
        var reopen = AmqpConnector.RetryForever(_logger, $"open a channel for {_purpose}");
        while (!_stop.IsCancellationRequested)
        {
            IChannel? channel = null;
            using var broken = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            try
            {
                int generation;
                lock (_lock)
                {
                    generation = ++_generation;
                }
                channel = await reopen.ExecuteAsync(async t =>
                    await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false), t),
                    _stop.Token);
                channel.BasicAcksAsync += (_, e) => { OnConfirmed(generation, e.DeliveryTag, e.Multiple); return Task.CompletedTask; };
                channel.BasicNacksAsync += (_, _) =>
                {
                    // The broker lost them; resend everything unconfirmed in order on a fresh channel.
                    _logger.LogWarning("RabbitMQ refused a {Purpose} message; sending again", _purpose);
                    BreakLater(broken);
                    return Task.CompletedTask;
                };
                channel.ChannelShutdownAsync += (_, _) => { BreakLater(broken); return Task.CompletedTask; };
                // The broker sends a mandatory message's return before its confirm, on the same channel.
                channel.BasicReturnAsync += (_, e) => { OnReturned(generation, e); return Task.CompletedTask; };
                if (!channel.IsOpen)
                {
                    continue;
                }
                await PublishAsync(channel, generation, broken.Token);
            }
            catch (Exception e) when (!_stop.IsCancellationRequested)
            {
                _logger.LogWarning("{Purpose} publisher: channel failed ({Error}); unconfirmed messages will be sent again", _purpose, e.Message);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                RequeueInFlight();
                if (channel is not null)
                {
                    await channel.CloseQuietlyAsync(_logger, $"the {_purpose} publisher's old channel");
                }
            }
        }
    }

    private async Task PublishAsync(IChannel channel, int generation, CancellationToken ct)
    {
        while (true)
        {
            OutgoingMessage? next = null;
            lock (_lock)
            {
                if (_pending.First is { } first && _inFlight.Count < MaxInFlight)
                {
                    next = first.Value;
                }
            }
            if (next is null)
            {
                await _wake.Reader.ReadAsync(ct);
                continue;
            }
            ct.ThrowIfCancellationRequested();
            if (next.Returned)
            {
                await RouteAgainAsync(channel, next, ct);
            }
            var seq = await channel.GetNextPublishSequenceNumberAsync(ct);
            lock (_lock)
            {
                if (generation != _generation)
                {
                    return;
                }
                _pending.RemoveFirst();
                _inFlight.AddLast((seq, next));
            }
            await channel.BasicPublishAsync(next.Exchange, next.RoutingKey, next.Mandatory, next.Properties, next.Body, ct);
        }
    }

    /// <summary>Declares a returned message's queue before it goes out again, after a pause so a queue that can't be had is not hammered.</summary>
    private async Task RouteAgainAsync(IChannel channel, OutgoingMessage message, CancellationToken ct)
    {
        await Task.Delay(ReturnPause, ct);
        try
        {
            await message.DeclareRoute!(channel, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning("{Purpose} publisher: could not declare {Queue} again: {Error}", _purpose, message.RoutingKey, e.Message);
        }
        message.Returned = false;
    }

    private void OnReturned(int generation, BasicReturnEventArgs returned)
    {
        var publishId = returned.BasicProperties.Headers?.TryGetValue(OutgoingMessage.PublishIdHeader, out var value) == true && value is byte[] bytes
            ? System.Text.Encoding.UTF8.GetString(bytes)
            : null;
        lock (_lock)
        {
            if (generation != _generation || publishId is null)
            {
                return;
            }
            foreach (var (_, message) in _inFlight)
            {
                if (message.PublishId == publishId)
                {
                    message.Returned = true;
                }
            }
        }
        _logger.LogWarning("RabbitMQ could not route a {Purpose} message to {RoutingKey} ({ReplyCode} {ReplyText}); declaring its queue again and sending it again",
            _purpose, returned.RoutingKey, returned.ReplyCode, returned.ReplyText);
    }

    private void OnConfirmed(int generation, ulong tag, bool multiple)
    {
        var confirmed = new List<OutgoingMessage>();
        bool wakePump;
        lock (_lock)
        {
            if (generation != _generation)
            {
                return;
            }
            wakePump = _inFlight.Count >= MaxInFlight;
            var returned = new List<OutgoingMessage>();
            var freedBytes = 0L;
            var node = _inFlight.First;
            while (node is not null && node.Value.Seq <= tag)
            {
                var following = node.Next;
                if (multiple || node.Value.Seq == tag)
                {
                    // A returned message is confirmed too, but it reached no queue: it goes out again.
                    if (node.Value.Message.Returned)
                    {
                        returned.Add(node.Value.Message);
                    }
                    else
                    {
                        confirmed.Add(node.Value.Message);
                        freedBytes += node.Value.Message.Size;
                    }
                    _inFlight.Remove(node);
                }
                node = following;
            }
            for (var i = returned.Count - 1; i >= 0; i--)
            {
                _pending.AddFirst(returned[i]);
            }
            wakePump |= returned.Count > 0;
            if (confirmed.Count > 0)
            {
                _used -= freedBytes;
                var freed = _spaceFreed;
                _spaceFreed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                freed.TrySetResult();
                if (_used == 0)
                {
                    _emptied.TrySetResult();
                }
            }
        }
        if (wakePump)
        {
            // Not inline: this runs on the client's dispatch loop, which must not publish.
            ThreadPool.QueueUserWorkItem(static wake => wake.TryWrite(true), _wake.Writer, preferLocal: false);
        }
        foreach (var message in confirmed)
        {
            message.Confirm();
        }
    }

    /// <summary>Unconfirmed messages go back to the front of the outbox, in their order, for the next channel.</summary>
    private void RequeueInFlight()
    {
        lock (_lock)
        {
            _generation++;
            for (var node = _inFlight.Last; node is not null; node = node.Previous)
            {
                _pending.AddFirst(node.Value.Message);
            }
            _inFlight.Clear();
        }
    }

    /// <summary>
    /// Ends the channel's pump from a client event handler without running the pump there: its
    /// wait may continue synchronously, and closing a channel inside its own event would deadlock.
    /// </summary>
    private static void BreakLater(CancellationTokenSource broken) =>
        ThreadPool.QueueUserWorkItem(static cts => SafeCancel(cts), broken, preferLocal: false);

    private static void SafeCancel(CancellationTokenSource cts)
    {
        try
        {
            cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
