using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Worker.Gce.Tests.Fakes;

namespace Worker.Gce.Tests;

/// <summary>WORKER_GCE_ACCOUNT_JSON, as a path or as the JSON itself, gets tokens from the OAuth endpoint the key names.</summary>
public sealed class GceCredentialsTests() : FakeGceTest(bootVms: false)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_service_account_key_signs_in_and_its_token_opens_the_API(bool asPath)
    {
        await using var tokens = await FakeTokenServer.StartAsync(Gce.Tests.Fakes.FakeComputeApi.Token);
        var json = ServiceAccountKey(tokens.TokenUri);
        var path = Path.GetTempFileName();
        await File.WriteAllTextAsync(path, json);
        try
        {
            var settings = Bed.Settings(("GCE_ACCESS_TOKEN", ""), ("GCE_ACCOUNT_JSON", asPath ? path : json));
            var client = GceRegistration.CreateClient(GceOptions.Load(settings), settings, NullLoggerFactory.Instance);

            var zones = 0;
            await foreach (var _ in client.ListAsync<ComputeZone>($"projects/{FakeComputeApi.Project}/zones", null, CancellationToken.None))
            {
                zones++;
            }

            Assert.Equal(Fake.Zones.Length, zones);
            var claims = JsonNode.Parse(Base64Url(Assert.Single(tokens.Assertions).Split('.')[1]))!;
            Assert.Equal("worker@test-project.iam.gserviceaccount.com", claims["iss"]!.GetValue<string>());
            Assert.Contains("https://www.googleapis.com/auth/compute", claims["scope"]!.GetValue<string>());
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string ServiceAccountKey(Uri tokenUri)
    {
        using var rsa = RSA.Create(2048);
        return JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["project_id"] = FakeComputeApi.Project,
            ["private_key_id"] = "key-1",
            ["private_key"] = rsa.ExportPkcs8PrivateKeyPem(),
            ["client_email"] = "worker@test-project.iam.gserviceaccount.com",
            ["client_id"] = "1234567890",
            ["token_uri"] = tokenUri.ToString(),
        });
    }

    private static string Base64Url(string text)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        padded += new string('=', (4 - padded.Length % 4) % 4);
        return Encoding.UTF8.GetString(Convert.FromBase64String(padded));
    }
}
