using Worker.Core.Configuration;

namespace Worker.Http;

/// <summary>Settings of the health and control server (<c>WORKER_HTTP_*</c>). Off unless an address is set.</summary>
public sealed record HttpOptions
{
    public static readonly Setting<HttpListenAddress?> Addr = new("HTTP_ADDR", null,
        "Address of the health and control server (/healthz, /readyz, /status, PUT /pool, POST /drain). Empty: no server.",
        HttpListenAddress.Allowed,
        text => HttpListenAddress.TryParse(text, out var address) ? (true, address) : (false, null),
        address => address?.ToString() ?? "");

    public static readonly Setting<string?> AuthToken = Setting.OptionalText("HTTP_AUTH_TOKEN",
        "Bearer token the control endpoints (PUT /pool, POST /drain) require. Empty: they are off.",
        "any text", secret: true);

    public static IReadOnlyList<ISetting> All { get; } = [Addr, AuthToken];

    public HttpListenAddress? Address { get; init; }
    public string? Token { get; init; }

    /// <summary>The variable that set the address (WORKER_ or TRAVIS_WORKER_), for error messages.</summary>
    public string? Variable { get; init; }

    /// <summary>The control endpoints answer only when a token is configured.</summary>
    public bool ControlEnabled => !string.IsNullOrEmpty(Token);

    public static HttpOptions Load(SettingsSource source) => new()
    {
        Address = Addr.Read(source),
        Token = AuthToken.Read(source),
        Variable = source.Find(Addr.Key)?.Variable,
    };
}
