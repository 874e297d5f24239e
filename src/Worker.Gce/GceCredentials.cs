using Google.Apis.Auth.OAuth2;

namespace Worker.Gce;

/// <summary>Where the Compute API's bearer tokens come from.</summary>
public interface IAccessTokenSource
{
    Task<string> GetTokenAsync(CancellationToken ct);
}

/// <summary>A fixed token (<c>WORKER_GCE_ACCESS_TOKEN</c>), for emulators and tests.</summary>
public sealed class StaticAccessToken(string token) : IAccessTokenSource
{
    public Task<string> GetTokenAsync(CancellationToken ct) => Task.FromResult(token);
}

/// <summary>
/// Google credentials: a service account key (<c>WORKER_GCE_ACCOUNT_JSON</c>, a path or the JSON
/// itself) or Application Default Credentials, which on GCE is the metadata server. Tokens are
/// cached and refreshed by Google.Apis.Auth.
/// </summary>
public sealed class GoogleAccessTokens : IAccessTokenSource
{
    private const string ComputeScope = "https://www.googleapis.com/auth/compute";
    private readonly Lazy<Task<ITokenAccess>> _credential;

    public GoogleAccessTokens(string? accountJson) =>
        _credential = new Lazy<Task<ITokenAccess>>(() => CreateAsync(accountJson));

    public async Task<string> GetTokenAsync(CancellationToken ct)
    {
        var credential = await _credential.Value;
        return await credential.GetAccessTokenForRequestAsync(cancellationToken: ct);
    }

    private static async Task<ITokenAccess> CreateAsync(string? accountJson)
    {
        GoogleCredential credential;
        if (accountJson is null)
        {
            credential = await GoogleCredential.GetApplicationDefaultAsync();
        }
        else
        {
            var json = accountJson.TrimStart().StartsWith('{') ? accountJson : await File.ReadAllTextAsync(accountJson);
            credential = GoogleCredential.FromServiceAccountCredential(CredentialFactory.FromJson<ServiceAccountCredential>(json));
        }
        return credential.CreateScoped(ComputeScope);
    }
}
