using Worker.Composition;
using Worker.Core.Configuration;

namespace Worker.Tests;

/// <summary>A setting's name misspelt is named with the setting it was likely meant to be, also under an image-mapping prefix.</summary>
public sealed class SettingTypoTests
{
    [Theory]
    [InlineData("WORKER_DOCKER_IMAGE_DEFUALT", "WORKER_DOCKER_IMAGE_DEFUALT is read as one of the docker backend's image mappings; did you mean WORKER_DOCKER_IMAGE_DEFAULT?")]
    [InlineData("TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TPYE", "TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TPYE is read as one of the docker backend's image mappings; did you mean TRAVIS_WORKER_DOCKER_IMAGE_SELECTOR_TYPE?")]
    [InlineData("WORKER_GCE_IMAGE_PROJECTID", "WORKER_GCE_IMAGE_PROJECTID is read as one of the gce backend's image mappings; did you mean WORKER_GCE_IMAGE_PROJECT_ID?")]
    public void A_misspelt_setting_that_an_image_mapping_prefix_takes_in_is_named_with_the_setting_it_may_mean(string variable, string expected)
    {
        var warning = Assert.Single(SettingsCatalog.UnusedVariableWarnings(SettingsSource.From((variable, "x"))));

        Assert.Equal(expected, warning);
    }

    [Theory]
    [InlineData("WORKER_HARD_TIMOUT", "WORKER_HARD_TIMEOUT")]
    [InlineData("TRAVIS_WORKER_AMQP_URL", "TRAVIS_WORKER_AMQP_URI")]
    [InlineData("WORKER_INFR", "WORKER_INFRA")]
    public void A_misspelt_setting_is_named_with_the_setting_it_may_mean(string variable, string meant)
    {
        var warning = Assert.Single(SettingsCatalog.UnusedVariableWarnings(SettingsSource.From((variable, "1"))));

        Assert.Equal($"{variable} is not a setting this worker knows; it is ignored (did you mean {meant}?)", warning);
    }

    [Fact]
    public void A_name_far_from_every_setting_gets_no_guess()
    {
        var warning = Assert.Single(SettingsCatalog.UnusedVariableWarnings(SettingsSource.From(("WORKER_FROBNICATE", "1"))));

        Assert.Equal("WORKER_FROBNICATE is not a setting this worker knows; it is ignored", warning);
    }

    [Fact]
    public void The_image_mappings_of_travis_languages_are_not_taken_for_typos()
    {
        string[] languages =
        [
            "ANDROID", "C", "CLOJURE", "CPP", "CRYSTAL", "CSHARP", "D", "DART", "DEFAULT_IMAGE", "ELIXIR", "ELM", "ERLANG", "GENERIC", "GO", "GROOVY",
            "HASKELL", "HAXE", "JAVA", "JULIA", "MINIMAL", "NIX", "NODE_JS", "OBJECTIVE_C", "PERL", "PERL6", "PHP", "PYTHON", "R", "RUBY", "RUST",
            "SCALA", "SHELL", "SMALLTALK", "SWIFT", "XENIAL_RUBY", "TRUSTY", "BIONIC", "FOCAL", "JAMMY",
        ];
        var settings = SettingsSource.From([.. languages.SelectMany(l => new[] { ($"WORKER_DOCKER_IMAGE_{l}", "img"), ($"TRAVIS_WORKER_GCE_IMAGE_{l}", "img.+") })]);

        Assert.Empty(SettingsCatalog.UnusedVariableWarnings(settings));
    }
}
