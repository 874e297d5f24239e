namespace Worker.Tests;

/// <summary>terraform/ parses (the terraform CLI can't run here), and documents what an operator sets.</summary>
public sealed class TerraformFilesTests
{
    [Fact]
    public async Task Every_terraform_file_parses()
    {
        var terraform = await TerraformConfiguration.LoadAsync();

        var files = Directory.GetFiles(terraform.Folder).Select(file => Path.GetFileName(file))
            .Where(name => name.EndsWith(".tf", StringComparison.Ordinal) || name.EndsWith(".tfvars", StringComparison.Ordinal))
            .Order().ToList();

        Assert.Contains("main.tf", files);
        Assert.Equal(files, terraform.Files.Select(file => file.Key).Order().ToList());
    }

    [Fact]
    public async Task A_file_that_is_not_valid_hcl_is_refused_by_the_parser()
    {
        using var dir = new TempDirectory();
        dir.Write("broken.tf", "locals {\n  worker_env = {\n    WORKER_POOL_SIZE = \n  }\n}\n");

        var e = await Record.ExceptionAsync(() => TerraformConfiguration.ParseAsync(dir.Path));

        Assert.NotNull(e);
        Assert.Contains("broken.tf", e.Message);
    }

    [Fact]
    public async Task Every_variable_has_a_description_and_only_the_deployment_specific_ones_lack_a_default()
    {
        var variables = (await TerraformConfiguration.LoadAsync()).Variables;

        Assert.All(variables, pair => Assert.False(string.IsNullOrWhiteSpace(TerraformConfiguration.Text(pair.Value["description"])), pair.Key));
        var required = variables.Where(pair => !pair.Value.ContainsKey("default")).Select(pair => pair.Key).Order().ToList();
        Assert.Equal(["host_image", "project_id", "worker_image"], required);
    }

    [Fact]
    public async Task The_group_is_regional_with_autohealing_and_its_hosts_run_container_optimized_os()
    {
        var terraform = await TerraformConfiguration.LoadAsync();
        var group = terraform.Resource("google_compute_region_instance_group_manager", "worker");
        var template = terraform.Resource("google_compute_instance_template", "worker");

        Assert.Equal("${var.region}", TerraformConfiguration.Text(group["region"]));
        Assert.NotNull(group["auto_healing_policies"]);
        Assert.Equal("${var.host_image}", TerraformConfiguration.Text(template["disk"]![0]!["source_image"]));
        Assert.Contains("projects/cos-cloud/global/images/cos-stable", TerraformConfiguration.Text(terraform.Files["example.tfvars"]!["host_image"]));
        Assert.Contains("cloud-init.yaml.tftpl", TerraformConfiguration.Text(template["metadata"]!["user-data"]));
        Assert.Equal("${google_service_account.worker.email}", TerraformConfiguration.Text(template["service_account"]![0]!["email"]));
    }
}
