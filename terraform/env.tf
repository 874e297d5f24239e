# The containers' settings. Every key is a WORKER_* setting of the worker (see config.example.env),
# beside the OTEL_* ones of var.otel_env;
# tests/Worker.Tests/Terraform*Tests.cs check each one against the worker's own table of keys. No
# secret is here: those come from Secret Manager (secrets.tf) when the container starts.

# The region's zones that are UP: not every region has an "-a" zone (us-east1, europe-west1 don't).
data "google_compute_zones" "up" {
  region = var.region
  status = "UP"
}

locals {
  job_zones = length(var.job_zones) > 0 ? var.job_zones : data.google_compute_zones.up.names

  # The gauge each host writes and the autoscaler reads (main.tf).
  load_metric = "custom.googleapis.com/worker/load"

  queue_types = [for t in split(",", var.queue_type) : trimspace(t)]

  # `worker run`: takes jobs from RabbitMQ or job-board and runs each on a fresh GCE VM.
  worker_env = {
    WORKER_PROVIDER_NAME   = "gce"
    WORKER_QUEUE_TYPE      = var.queue_type
    WORKER_QUEUE_NAME      = var.queue_name
    WORKER_TRAVIS_SITE     = var.travis_site
    WORKER_POOL_SIZE       = tostring(var.pool_size)
    WORKER_FLEET           = var.fleet_name
    WORKER_HTTP_ADDR       = ":${var.http_port}"
    WORKER_MAX_LIFETIME    = var.max_lifetime
    WORKER_IDLE_RETIRE     = var.idle_retire
    WORKER_MIN_HOSTS       = tostring(var.min_hosts)
    WORKER_GCE_LOAD_METRIC = local.load_metric
    # docker stop --time in cloud-init: the drain on SIGTERM ends inside it. Running jobs get 45 % of it to
    # finish; the rest requeues what is left, deletes the job VMs and exits (src/Worker.Core/Pipeline/ShutdownBudget.cs).
    WORKER_STOP_WINDOW           = "${var.stop_grace_seconds}s"
    WORKER_SHUTDOWN_TIMEOUT      = "${floor(var.stop_grace_seconds * 45 / 100)}s"
    WORKER_HARD_TIMEOUT          = var.hard_timeout
    WORKER_STARTUP_TIMEOUT       = var.startup_timeout
    WORKER_SCRIPT_UPLOAD_TIMEOUT = var.script_upload_timeout
    WORKER_LOG_FORMAT            = "json"
    WORKER_GCE_PROJECT_ID        = var.project_id
    WORKER_GCE_ZONES             = join(",", local.job_zones)
    WORKER_GCE_REGION            = var.region
    WORKER_GCE_NETWORK           = var.network
    WORKER_GCE_SUBNETWORK        = var.subnetwork
    WORKER_GCE_MACHINE_TYPE      = var.job_machine_type
    WORKER_GCE_DISK_SIZE         = tostring(var.job_disk_size_gb)
    WORKER_GCE_IMAGE_PROJECT_ID  = var.job_image_project_id
    WORKER_GCE_IMAGE_DEFAULT     = var.job_image_default
    WORKER_GCE_PREEMPTIBLE       = tostring(var.job_preemptible)
    WORKER_GCE_SPOT              = tostring(var.job_spot)
    WORKER_GCE_PUBLIC_IP         = tostring(var.job_public_ip)
    # Hosts and job VMs share the VPC, so SSH goes over internal addresses (the firewall rule in main.tf allows it).
    WORKER_GCE_PUBLIC_IP_CONNECT = "false"
    WORKER_HONEYCOMB_DATASET     = var.honeycomb_dataset
    WORKER_TRACE_SAMPLE_RATE     = tostring(var.trace_sample_rate)
  }

  # `worker cleanup`: the sidecar on every host. It needs no broker, so it gets no secret at all.
  cleanup_env = {
    WORKER_PROVIDER_NAME    = "gce"
    WORKER_FLEET            = var.fleet_name
    WORKER_LOG_FORMAT       = "json"
    WORKER_GCE_PROJECT_ID   = var.project_id
    WORKER_GCE_ZONES        = join(",", local.job_zones)
    WORKER_GCE_REGION       = var.region
    WORKER_CLEANUP_INTERVAL = var.cleanup_interval
  }

  # docker --env-file format: one KEY=value a line; empty values are the same as unset for the worker.
  # otel_env: OpenTelemetry's own OTEL_* names, read by the worker as every OpenTelemetry SDK reads them.
  worker_env_file  = join("\n", [for key, value in merge(local.worker_env, var.otel_env, var.extra_env) : "${key}=${value}"])
  cleanup_env_file = join("\n", [for key, value in local.cleanup_env : "${key}=${value}"])
}
