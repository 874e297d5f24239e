using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Worker.Http;

/// <summary>
/// Guards the control endpoints with <c>Authorization: Bearer WORKER_HTTP_AUTH_TOKEN</c>. Without a
/// configured token they don't exist (404), so an unset token can never mean "open to all".
/// </summary>
public sealed class BearerTokenFilter(string? token) : IEndpointFilter
{
    private const string Scheme = "Bearer ";
    private readonly byte[]? _expected = string.IsNullOrEmpty(token) ? null : Encoding.UTF8.GetBytes(token);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_expected is null)
        {
            return Results.NotFound();
        }
        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Json(new { error = "this endpoint needs Authorization: Bearer <WORKER_HTTP_AUTH_TOKEN>" },
                statusCode: StatusCodes.Status401Unauthorized);
        }
        // Constant-time, so the token can't be guessed byte by byte from response times.
        var given = Encoding.UTF8.GetBytes(header[Scheme.Length..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(given, _expected))
        {
            return Results.Json(new { error = "wrong token" }, statusCode: StatusCodes.Status403Forbidden);
        }
        return await next(context);
    }
}
