using Microsoft.Extensions.Logging;
using Worker.Core.Configuration;

namespace Worker.Core.Images;

/// <summary>
/// A backend's <c>PROVIDER_IMAGE_SELECTOR_TYPE</c> and <c>_URL</c>, as travis-worker named them:
/// which selector chooses the image of a job that names none.
/// </summary>
public sealed record ImageSelectorChoice(string Type, Uri? Url = null)
{
    public const string Env = "env";
    public const string Api = "api";

    /// <summary>How long the api selector keeps asking; not a setting (travis-worker's limits), tests shorten it.</summary>
    public ImageSelectorBackoff Backoff { get; init; } = ImageSelectorBackoff.Travis;

    /// <summary>The type and URL settings of a backend; the api selector needs a URL, which stops start-up naming it when missing.</summary>
    public static ImageSelectorChoice Read(SettingsSource source, Setting<string> type, Setting<Uri?> url)
    {
        var choice = new ImageSelectorChoice(type.Read(source), url.Read(source));
        if (choice is { Type: Api, Url: null })
        {
            var typeVariable = source.Find(type.Key)?.Variable ?? SettingsSource.Prefix + type.Key;
            // Named as the operator named the type: TRAVIS_WORKER_..._TYPE=api asks for TRAVIS_WORKER_..._URL.
            var urlVariable = typeVariable[..^"TYPE".Length] + "URL";
            throw new InvalidSettingException(urlVariable, "", $"{url.Allowed}, required with {typeVariable}={Api}");
        }
        return choice;
    }

    /// <summary>
    /// The selector chosen: the api or env one, or for another type the backend's own
    /// (<paramref name="ownSelector"/>, e.g. Docker's tag selector).
    /// </summary>
    /// <param name="mappings">The env selector's mappings (<see cref="EnvImageSelector.MappingsFrom"/>).</param>
    public IImageSelector Create(IReadOnlyDictionary<string, string> mappings, ILogger logger, Func<IImageSelector>? ownSelector = null) => Type switch
    {
        Api => new ApiImageSelector(Url ?? throw new InvalidOperationException("the api image selector needs a URL"), Backoff, logger),
        Env => new EnvImageSelector(mappings),
        _ => ownSelector?.Invoke() ?? throw new InvalidOperationException($"no image selector of type '{Type}' here"),
    };
}
