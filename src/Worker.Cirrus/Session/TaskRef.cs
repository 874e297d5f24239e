using System.Globalization;
using Worker.Cirrus.Api;

namespace Worker.Cirrus.Session;

/// <summary>A task as the task RPCs name it: its ID (task_id, else old_task_id) and its client secret.</summary>
public sealed record TaskRef(string TaskId, string ClientSecret)
{
    public static TaskRef Of(PollResponse.Types.AgentAwareTask task) => new(IdOf(task), task.ClientSecret);

    public static string IdOf(PollResponse.Types.AgentAwareTask task)
    {
#pragma warning disable CS0612 // old_task_id: the fallback cirrus-cli keeps for servers that send only it.
        return task.TaskId.Length > 0 ? task.TaskId : task.OldTaskId.ToString(CultureInfo.InvariantCulture);
#pragma warning restore CS0612
    }

    /// <summary>The old numeric identification the message bodies carry; an empty one when the ID is not numeric (the server reads the metadata).</summary>
    public TaskIdentification Identification() =>
        long.TryParse(TaskId, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id)
            ? new TaskIdentification { TaskId = id, Secret = ClientSecret }
            : new TaskIdentification();
}
