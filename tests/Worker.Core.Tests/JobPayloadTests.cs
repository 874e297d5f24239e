using Worker.Core.Backends;
using Worker.Core.Configuration;
using Worker.Core.Jobs;

namespace Worker.Core.Tests;

public sealed class JobPayloadTests
{
    private const string TravisPayload = """
        {"type":"job:test","job":{"id":42,"number":"7.1","queued_at":"2026-11-23T10:00:00Z"},
         "source":{"id":9,"number":"7"},"repository":{"id":3,"slug":"acme/app"},"uuid":"u-1",
         "config":{"language":"ruby","script":["rake"]},"timeouts":{"hard_limit":600,"log_silence":60},
         "vm_size":"large","meta":{"state_update_count":2},"queue":"builds.linux",
         "env_vars":[{"name":"SECRET","value":"v1","public":false},{"name":"OPEN","value":"v2","public":true}],
         "something_new":{"kept":true}}
        """;

    [Fact]
    public void Travis_payload_fields_are_read()
    {
        var payload = JobPayload.Parse(TravisPayload);
        Assert.Equal(42, payload.JobId);
        Assert.Equal("7.1", payload.JobNumber);
        Assert.Equal("acme/app", payload.RepositorySlug);
        Assert.Equal(TimeSpan.FromSeconds(600), payload.HardLimit);
        Assert.Equal(TimeSpan.FromSeconds(60), payload.LogSilence);
        Assert.Equal(2, payload.StateUpdateCount);
        Assert.Equal("large", payload.VmSize);
        Assert.Equal(["v1"], payload.SecretValues);
    }

    [Fact]
    public void Unknown_fields_are_kept_when_the_payload_is_passed_on()
    {
        var payload = JobPayload.Parse(TravisPayload);
        Assert.Contains("\"something_new\":{\"kept\":true}", payload.ToJson());
    }

    [Theory]
    [InlineData("not json", "payload is not JSON")]
    [InlineData("[1,2]", "payload is not a JSON object")]
    [InlineData("{}", "payload has no job object")]
    [InlineData("{\"job\":{}}", "payload has no job.id")]
    [InlineData("{\"job\":{\"id\":\"abc\"}}", "job.id must be a positive integer")]
    [InlineData("{\"job\":{\"id\":-3}}", "job.id must be a positive integer")]
    [InlineData("{\"job\":{\"id\":1},\"config\":[]}", "config must be a JSON object")]
    [InlineData("{\"job\":{\"id\":1},\"timeouts\":{\"hard_limit\":true}}", "timeouts.hard_limit must be a number of seconds")]
    public void Unusable_payload_is_refused_with_the_reason(string json, string reason)
    {
        var e = Assert.Throws<InvalidJobPayloadException>(() => JobPayload.Parse(json));
        Assert.Contains(reason, e.Message);
    }

    [Theory]
    [InlineData("""{"job":{"id":1},"timeouts":{"hard_limit":1000000000000}}""", "timeouts.hard_limit must be a number of seconds from 0 to 604800")]
    [InlineData("""{"job":{"id":1},"timeouts":{"hard_limit":1e400}}""", "timeouts.hard_limit must be a number of seconds")]
    [InlineData("""{"job":{"id":1},"timeouts":{"log_silence":-1}}""", "timeouts.log_silence must be a number of seconds")]
    [InlineData("""{"job":{"id":1},"timeouts":{"log_silence":"99999999999999h"}}""", "timeouts.log_silence must be a number of seconds")]
    [InlineData("""{"job":{"id":1},"timeouts":{"hard_limit":"soon"}}""", "timeouts.hard_limit must be a number of seconds")]
    [InlineData("""{"job":{"id":99999999999999999999}}""", "job.id must be a positive integer")]
    [InlineData("""{"job":{"id":1.5}}""", "job.id must be a positive integer")]
    [InlineData("""{"job":{"id":1},"meta":{"state_update_count":1e12}}""", "meta.state_update_count must be a whole number")]
    [InlineData("""{"job":{"id":1},"meta":{"state_update_count":"3"}}""", "meta.state_update_count must be a whole number")]
    [InlineData("""{"job":{"id":1},"meta":{"requeue_count":-2}}""", "meta.requeue_count must be a whole number")]
    [InlineData("""{"job":{"id":1},"config":{"cpus":"many"}}""", "config.cpus must be a positive number")]
    [InlineData("""{"job":{"id":1},"config":{"memory":"1e30g"}}""", "config.memory must be a size")]
    [InlineData("""{"job":{"id":1},"config":{"memory":{"gb":2}}}""", "config.memory must be a size")]
    [InlineData("""{"job":{"id":1},"config":{"volumes":"/a:/b"}}""", "config.volumes must be a list")]
    [InlineData("""{"job":{"id":1},"config":{"volumes":[["/a:/b"]]}}""", "config.volumes must list strings")]
    [InlineData("""{"job":{"id":1},"repository":"acme/app"}""", "repository must be a JSON object")]
    [InlineData("""{"job":{"id":1},"env_vars":[["A","b"]]}""", "env_vars must list objects")]
    [InlineData("""{"job":{"id":1},"env_vars":[{"name":{"x":1},"value":"b"}]}""", "env_vars: name must be a string")]
    [InlineData("""{"job":{"id":1},"vm_config":[]}""", "vm_config must be a JSON object")]
    [InlineData("""{"job":{"id":1},"vm_config":{"gpu_count":-1}}""", "vm_config.gpu_count must be a whole number from 0 to 2147483647, got -1")]
    [InlineData("""{"job":{"id":1},"vm_config":{"gpu_count":1.5}}""", "vm_config.gpu_count must be a whole number")]
    [InlineData("""{"job":{"id":1},"vm_config":{"gpu_count":"2"}}""", "vm_config.gpu_count must be a whole number")]
    [InlineData("""{"job":{"id":1},"vm_config":{"gpu_count":1e12}}""", "vm_config.gpu_count must be a whole number")]
    [InlineData("""{"job":{"id":1},"vm_config":{"gpu_count":1,"gpu_type":["nvidia-tesla-t4"]}}""", "vm_config.gpu_type must be a string")]
    [InlineData("""{"job":{"id":1},"vm_config":{"zone":["us-central1-b"]}}""", "vm_config.zone must be a string such as us-central1-b, got [\"us-central1-b\"]")]
    [InlineData("""{"job":{"id":1},"vm_config":{"zone":1}}""", "vm_config.zone must be a string")]
    [InlineData("""{"job":{"id":1},"job":{"id":2}}""", "payload is not JSON")]
    [InlineData("""{"job":{"id":1},"config":{"script":"a","script":"b"}}""", "payload is not JSON")]
    public void Values_out_of_range_or_of_the_wrong_type_are_refused_where_the_payload_is_read(string json, string reason)
    {
        var e = Assert.Throws<InvalidJobPayloadException>(() => JobPayload.Parse(json));
        Assert.Contains(reason, e.Message);
        var fromBytes = Assert.Throws<InvalidJobPayloadException>(() => JobPayload.Parse(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Equal(e.Message, fromBytes.Message);
    }

    [Fact]
    public void A_string_with_an_unpaired_surrogate_is_refused_where_the_payload_is_read()
    {
        var e = Assert.Throws<InvalidJobPayloadException>(() => JobPayload.Parse("""{"job":{"id":1},"config":{"script":"echo \ud800"}}"""));
        Assert.Contains("can't be read", e.Message);
    }

    [Theory]
    [InlineData("""{"job":{"id":1},"config":{"env":[{"deep":["a","b\ud800c"]}]}}""")]
    [InlineData("""{"job":{"id":1},"config":{"\udc00key":"value"}}""")]
    public void A_broken_escape_anywhere_in_a_delivered_payload_is_refused_where_it_is_read(string json)
    {
        // Deep inside, from the queue's bytes or a string: a key's escape the parse already decodes, a value's is read at once.
        var e = Assert.Throws<InvalidJobPayloadException>(() => JobPayload.Parse(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Matches("can't be read|is not JSON", e.Message);
        Assert.Matches("can't be read|is not JSON", Assert.Throws<InvalidJobPayloadException>(() => JobPayload.Parse(json)).Message);
    }

    [Fact]
    public void Invalid_utf8_inside_a_string_is_refused_where_the_payload_is_read()
    {
        // The JSON reader accepts it; only decoding the string finds it, which the payload does at once.
        byte[] bytes = [.. "{\"job\":{\"id\":1},\"config\":{\"script\":\""u8, 0xC3, 0x28, .. "\"}}"u8];
        var e = Assert.Throws<InvalidJobPayloadException>(() => JobPayload.Parse(bytes));
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void Values_the_worker_reads_are_taken_once_when_the_payload_is_read()
    {
        var payload = JobPayload.Parse("""
            {"job":{"id":"9"},"timeouts":{"hard_limit":"1h30m","log_silence":0},"meta":{"state_update_count":4,"requeue_count":2},
             "config":{"cpus":"1.5","memory":"512m","volumes":["/a:/b:ro",""]}}
            """);
        Assert.Equal(TimeSpan.FromMinutes(90), payload.HardLimit);
        Assert.Null(payload.LogSilence); // 0: the worker's default
        Assert.Equal(4, payload.StateUpdateCount);
        Assert.Equal(2, payload.MetaRequeueCount);
        Assert.Equal(1.5, payload.Cpus);
        Assert.Equal(512L << 20, payload.Memory);
        Assert.Equal(["/a:/b:ro"], payload.Volumes);
        Assert.Equal(TimeSpan.FromDays(7), JobPayload.Parse("""{"job":{"id":1},"timeouts":{"hard_limit":604800}}""").HardLimit);
    }

    [Fact]
    public void The_GPUs_of_vm_config_are_read_and_travis_schedulers_empty_one_asks_for_none()
    {
        var payload = JobPayload.Parse("""{"job":{"id":1},"vm_config":{"gpu_count":2,"gpu_type":"nvidia-tesla-v100","zone":"us-central1-b"}}""");

        Assert.Equal(new GpuRequest(2, "nvidia-tesla-v100"), payload.Gpus);
        Assert.Equal(new GpuRequest(2, "nvidia-tesla-v100"), StartAttributes.From(payload, new StartDefaults()).Gpus);
        Assert.Equal(new GpuRequest(0, "nvidia-l4"), JobPayload.Parse("""{"job":{"id":1},"vm_config":{"gpu_type":"nvidia-l4"}}""").Gpus);
        Assert.Null(JobPayload.Parse("""{"job":{"id":1},"vm_config":{}}""").Gpus);
        Assert.Null(JobPayload.Parse("""{"job":{"id":1},"vm_config":{"gpu_count":0,"gpu_type":" "}}""").Gpus);
        Assert.Null(JobPayload.Parse("""{"job":{"id":1}}""").Gpus);
    }

    [Fact]
    public void The_zone_of_vm_config_is_read_and_an_empty_one_names_none()
    {
        var payload = JobPayload.Parse("""{"job":{"id":1},"vm_config":{"gpu_count":1,"gpu_type":"nvidia-tesla-t4","zone":" us-central1-b "}}""");

        Assert.Equal("us-central1-b", payload.RequestedZone);
        Assert.Equal("us-central1-b", StartAttributes.From(payload, new StartDefaults()).RequestedZone);
        Assert.Equal("us-central1-b", payload.Clone().RequestedZone);
        Assert.Equal("europe-west1-b", JobPayload.Parse("""{"job":{"id":1},"vm_config":{"zone":"europe-west1-b"}}""").RequestedZone);
        Assert.Null(JobPayload.Parse("""{"job":{"id":1},"vm_config":{"gpu_count":1,"zone":""}}""").RequestedZone);
        Assert.Null(JobPayload.Parse("""{"job":{"id":1},"vm_config":{"zone":null}}""").RequestedZone);
        Assert.Null(JobPayload.Parse("""{"job":{"id":1},"vm_config":{"gpu_count":1}}""").RequestedZone);
        Assert.Null(StartAttributes.From(JobPayload.Parse("""{"job":{"id":1}}"""), new StartDefaults()).RequestedZone);
    }

    [Fact]
    public void Job_id_given_as_a_string_is_accepted()
    {
        Assert.Equal(12, JobPayload.Parse("{\"job\":{\"id\":\"12\"}}").JobId);
    }
}

public sealed class JobFileTests
{
    [Fact]
    public void Yaml_job_file_becomes_a_travis_payload()
    {
        var payload = JobFile.Parse("""
            id: 5
            image: worker-job-base:bookworm
            script: echo hi
            env: { A: b }
            secrets: { TOKEN: t0k }
            timeout: 5m
            log_silence: 30s
            language: ruby
            """, "builds.linux", "hello");

        Assert.Equal(5, payload.JobId);
        Assert.Equal("worker-job-base:bookworm", payload.Image);
        Assert.Equal(TimeSpan.FromMinutes(5), payload.HardLimit);
        Assert.Equal(TimeSpan.FromSeconds(30), payload.LogSilence);
        Assert.Equal(["t0k"], payload.SecretValues);
        Assert.Equal("local/hello", payload.RepositorySlug);
        Assert.Equal("builds.linux", payload.QueueName);
        Assert.Equal("ruby", JobPayload.Str(payload.Config["language"]));
        Assert.Null(payload.Config["secrets"]);
    }

    [Fact]
    public void A_job_file_asks_for_GPUs_as_a_payload_does_with_vm_config()
    {
        var payload = JobFile.Parse("vm_config: { gpu_count: 1, gpu_type: nvidia-tesla-t4 }\nscript: [\"true\"]", "q");

        Assert.Equal(new GpuRequest(1, "nvidia-tesla-t4"), payload.Gpus);
        Assert.Null(payload.Config["vm_config"]);
    }

    [Fact]
    public void Json_job_file_is_read_too()
    {
        var payload = JobFile.Parse("{\"script\": [\"true\"], \"timeout\": \"10s\"}", "q");
        Assert.Equal(TimeSpan.FromSeconds(10), payload.HardLimit);
        Assert.True(payload.JobId > 0);
    }

    [Fact]
    public void File_that_already_is_a_travis_payload_is_taken_as_it_is_with_fields_the_worker_does_not_read()
    {
        var payload = JobFile.Parse("{\"job\":{\"id\":77},\"build_extras\":1,\"config\":{\"script\":\"true\",\"cache\":{\"directories\":[\"x\"]}}}", "q");
        Assert.Equal(77, payload.JobId);
        Assert.NotNull(payload.Root["build_extras"]);
        Assert.NotNull(payload.Config["cache"]);
    }

    [Theory]
    [InlineData("scrpt: [\"true\"]", "'scrpt' (did you mean 'script'?)")]
    [InlineData("script: [\"true\"]\nimgae: debian", "'imgae' (did you mean 'image'?)")]
    [InlineData("script: [\"true\"]\nbefore_scirpt: [x]\ntimout: 5m", "keys in the job file: 'before_scirpt' (did you mean 'before_script'?), 'timout' (did you mean 'timeout'?)")]
    [InlineData("script: [\"true\"]\ncache: { directories: [x] }", "'cache'; a job file knows after_script, arch, ")]
    public void A_key_a_job_file_does_not_have_is_refused_naming_the_nearest_known_one(string text, string named)
    {
        var e = Assert.Throws<InvalidJobPayloadException>(() => JobFile.Parse(text, "q"));
        Assert.Contains(named, e.Message);
    }

    [Theory]
    [InlineData("scrpt", "script")]
    [InlineData("SCRIPT", null)]
    [InlineData("envv", "env")]
    [InlineData("x", null)]
    public void The_nearest_known_name_is_suggested_only_when_it_is_close(string typed, string? expected)
    {
        Assert.Equal(expected, KeyNames.Nearest(typed, ["script", "env", "image", "id"]));
    }

    [Theory]
    [InlineData("timeout: soon\nscript: x", "timeout must be a duration")]
    [InlineData("secrets: [a]\nscript: x", "secrets must be a mapping")]
    [InlineData("- just\n- a list", "must be a mapping")]
    [InlineData("script: [unclosed", "not valid YAML")]
    [InlineData("? [a, b]\n: x\nscript: x", "keys must be plain names")]
    public void Bad_job_file_is_refused_with_the_reason(string text, string reason)
    {
        var e = Assert.Throws<InvalidJobPayloadException>(() => JobFile.Parse(text, "q"));
        Assert.Contains(reason, e.Message);
    }
}
