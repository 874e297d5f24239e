using Worker.Cirrus.Config;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Commands;

/// <summary>Turns the errors an operator can fix into one line on stderr and exit code 2.</summary>
public static class CommandErrors
{
    public const int UsageExitCode = 2;

    public static async Task<int> GuardAsync(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (InvalidSettingException e)
        {
            await Console.Error.WriteLineAsync("worker: " + e.Message);
            return UsageExitCode;
        }
        catch (InvalidJobPayloadException e)
        {
            await Console.Error.WriteLineAsync("worker: " + e.Message);
            return UsageExitCode;
        }
        catch (CirrusConfigException e)
        {
            await Console.Error.WriteLineAsync("worker: " + e.Message);
            return UsageExitCode;
        }
    }
}
