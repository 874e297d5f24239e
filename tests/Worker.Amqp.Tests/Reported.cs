using System.Text.Json;

namespace Worker.Amqp.Tests;

/// <summary>A message the worker published to <c>reporting</c>, as a consumer saw it.</summary>
public sealed record Reported(string Exchange, string RoutingKey, string? Type, string? ContentType, bool Persistent, string? MessageId, JsonElement Body)
{
    public long JobId => Body.GetProperty("id").GetInt64();
    public bool IsLog => Type == AmqpNames.LogType;
    public bool IsState => !IsLog;
    public string? State => IsState ? Body.GetProperty("state").GetString() : null;
    public int Number => Body.GetProperty("number").GetInt32();
    public string Log => Body.GetProperty("log").GetString() ?? "";
    public bool Final => Body.GetProperty("final").GetBoolean();
    public int StateUpdateCount => Body.GetProperty("meta").GetProperty("state_update_count").GetInt32();
}
