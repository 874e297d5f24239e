using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using RabbitMQ.Client;
using Worker.Core.Configuration;
using Worker.Core.Security;

namespace Worker.Amqp;

/// <summary>
/// Opens RabbitMQ connections the way a worker host needs them: automatic recovery (connection,
/// channels, consumers, server-named queues), the configured heartbeat, TLS with optional private
/// CAs (the logs broker's may be its own), and a first connect that is retried with backoff until
/// it works or is cancelled.
/// </summary>
public sealed class AmqpConnector(AmqpOptions options, string clientName, ILogger logger)
{
    private int _warnedInsecure;

    /// <summary>Backoff for the worker's own retries (first connect, reopening a publisher's channel).</summary>
    internal static ResiliencePipeline RetryForever(ILogger logger, string what) => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(200),
            MaxDelay = TimeSpan.FromSeconds(5),
            UseJitter = true,
            ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is not OperationCanceledException),
            OnRetry = args =>
            {
                if (args.AttemptNumber % 10 == 0)
                {
                    logger.LogWarning("Still retrying to {What}: {Error}", what, args.Outcome.Exception?.Message);
                }
                return ValueTask.CompletedTask;
            },
        })
        .Build();

    public Task<IConnection> ConnectAsync(Uri uri, string purpose, CancellationToken ct) =>
        RetryForever(logger, $"connect to RabbitMQ ({purpose})")
            .ExecuteAsync(async token => await ConnectOnceAsync(uri, purpose, token), ct).AsTask();

    /// <summary>One attempt; for commands that should fail fast, such as <c>worker submit</c>.</summary>
    public async Task<IConnection> ConnectOnceAsync(Uri uri, string purpose, CancellationToken ct)
    {
        var factory = CreateFactory(uri);
        var connection = await factory.CreateConnectionAsync($"{clientName} ({purpose})", ct);
        connection.ConnectionShutdownAsync += (_, e) =>
        {
            // A close this process asked for (the end of a command, a drained worker) is no loss.
            if (e.Initiator == ShutdownInitiator.Application)
            {
                logger.LogDebug("RabbitMQ connection ({Purpose}) closed", purpose);
            }
            else if (e.ReplyCode == Constants.CommandInvalid)
            {
                // The broker refused a command this worker sent (e.g. an exchange type it lacks) and
                // closed the connection for it; the command's caller reports what that means.
                logger.LogDebug("RabbitMQ connection ({Purpose}) closed by the broker: {Reason}", purpose, e.ReplyText);
            }
            else
            {
                logger.LogWarning("RabbitMQ connection ({Purpose}) lost: {Reason}; recovering", purpose, e.ReplyText);
            }
            return Task.CompletedTask;
        };
        connection.RecoverySucceededAsync += (_, _) =>
        {
            logger.LogInformation("RabbitMQ connection ({Purpose}) recovered", purpose);
            return Task.CompletedTask;
        };
        return connection;
    }

    private ConnectionFactory CreateFactory(Uri uri)
    {
        var factory = new ConnectionFactory
        {
            Uri = uri,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = options.RecoveryInterval,
            RequestedHeartbeat = options.HeartbeatInterval,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
        if (uri.Scheme == "amqps")
        {
            factory.Ssl = new SslOption(uri.Host) { Enabled = true };
            var logs = options.LogsUri == uri && (options.LogsCaPath ?? options.LogsCaPem) is not null;
            var cas = Cas(logs ? options.LogsCaPath : options.CaPath, logs ? options.LogsCaPem : options.CaPem);
            if (cas.Count > 0)
            {
                // The broker's certificate must chain to the configured CAs and name the host dialled.
                factory.Ssl.CertificateValidationCallback = PinnedCaTrust.For(cas);
            }
            else if (options.InsecureTls)
            {
                if (Interlocked.Exchange(ref _warnedInsecure, 1) == 0)
                {
                    logger.LogWarning("The broker's TLS certificate is not checked ({Setting}): anyone between this host and {Host} can read and change jobs; " +
                        "give its CA with {CaSetting} instead", "AMQP_INSECURE", uri.Host, SettingsSource.Prefix + AmqpOptions.TlsCaPath.Key);
                }
                // As Go's InsecureSkipVerify: neither who signed it nor the name in it is checked.
                factory.Ssl.AcceptablePolicyErrors = SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch;
            }
        }
        return factory;
    }

    /// <summary>The CAs of a CA file (PEM or DER) and of PEM text, together.</summary>
    private static X509Certificate2Collection Cas(string? path, string? pem)
    {
        var cas = new X509Certificate2Collection();
        if (path is not null)
        {
            cas.Add(X509CertificateLoader.LoadCertificateFromFile(path));
        }
        if (pem is not null)
        {
            cas.ImportFromPem(pem);
        }
        return cas;
    }
}
