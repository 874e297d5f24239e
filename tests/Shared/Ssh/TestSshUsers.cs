namespace Worker.TestSupport;

/// <summary>
/// Login users for test machines, made once per host and kept (useradd is not undone: other test
/// runs use them too). A test sshd runs with <c>UsePAM no</c>, which refuses a locked account, so a
/// key-only user gets the password field <c>*</c> (no password, not locked) and a password user a
/// real one.
/// </summary>
public static class TestSshUsers
{
    private static readonly SemaphoreSlim s_lock = new(1, 1);

    /// <summary>A user that logs in with a key only.</summary>
    public static Task<string> KeyUserAsync(string name) => EnsureAsync(name, null);

    /// <summary>A user that logs in with <paramref name="password"/>.</summary>
    public static Task<string> PasswordUserAsync(string name, string password) => EnsureAsync(name, password);

    private static async Task<string> EnsureAsync(string name, string? password)
    {
        await s_lock.WaitAsync();
        try
        {
            if (!await ExistsAsync(name))
            {
                try
                {
                    await TestSshd.RunAsync("useradd", "--create-home", "--shell", "/bin/bash", name);
                }
                catch (InvalidOperationException)
                {
                    // Another test run may have made it meanwhile; if not, this is the real failure.
                    if (!await ExistsAsync(name))
                    {
                        throw;
                    }
                }
            }
            if (password is null)
            {
                await TestSshd.RunAsync("usermod", "-p", "*", name);
            }
            else
            {
                await TestSshd.RunAsync("sh", "-c", $"echo '{name}:{password}' | chpasswd");
            }
            return name;
        }
        finally
        {
            s_lock.Release();
        }
    }

    private static async Task<bool> ExistsAsync(string name)
    {
        try
        {
            await TestSshd.RunAsync("getent", "passwd", name);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
