using System.Text;
using Worker.Core.Scripts;

namespace Worker.JobBoard;

/// <summary>
/// The script a job-board job comes with (travis-build made it when job-board fetched the job), base64
/// in <c>job_script</c>: the machine runs it as it is, and the worker's generator is not asked, as in
/// travis-worker. Another encoding, or content that is not base64, errors the job.
/// </summary>
internal sealed class JobBoardScript(string? encoding, string? content) : IJobScript
{
    public Task<JobScript> GenerateAsync(IScriptGenerator generator, CancellationToken ct)
    {
        if (encoding != "base64")
        {
            throw new ScriptGenerationException(encoding is null ? "job-board sent no job_script" : $"job-board sent the job script in an unknown encoding '{encoding}'");
        }
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(content ?? "");
        }
        catch (FormatException e)
        {
            throw new ScriptGenerationException("job-board's job script is not valid base64", e);
        }
        return Task.FromResult(new JobScript(Encoding.UTF8.GetString(bytes)));
    }
}
