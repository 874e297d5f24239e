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
    public const string ComputeScope = "https://www.googleapis.com/auth/compute";
    public const string MonitoringWriteScope = "https://www.googleapis.com/auth/monitoring.write";
    private readonly Lazy<Task<ITokenAccess>> _credential;

    private readonly string _source;
    private readonly string _api;

    /// <param name="accountJson">A key file path or the key's JSON; null: Application Default Credentials.</param>
    /// <param name="scope">The API the tokens are for (a VM's metadata server gives its own scopes whatever is asked).</param>
    public GoogleAccessTokens(string? accountJson, string scope = ComputeScope)
    {
        _credential = new Lazy<Task<ITokenAccess>>(() => CreateAsync(accountJson, scope));
        _api = scope == MonitoringWriteScope ? "Cloud Monitoring" : "Compute API";
        _source = accountJson is null
            ? "Application Default Credentials (on GCE: the VM's service account, which needs the compute scope)"
            : "the service account key in WORKER_GCE_ACCOUNT_JSON";
    }

    public async Task<string> GetTokenAsync(CancellationToken ct)
    {
        try
        {
            var credential = await _credential.Value;
            return await credential.GetAccessTokenForRequestAsync(cancellationToken: ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Google.Apis.Auth can fail with a bare NullReferenceException (a token answer that is not
            // JSON, as a VM without a service account gets); say where the token was to come from.
            // Without a token every call is unauthenticated: a 401 in all but name, so a host failure.
            throw new ComputeApiException(401, ["noAccessToken"], $"No {_api} access token from {_source}: {e.GetType().Name}: {e.Message}", e);
        }
    }

    private static async Task<ITokenAccess> CreateAsync(string? accountJson, string scope)
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
        return credential.CreateScoped(scope);
    }
}
