# The containers' settings. Every key is a WORKER_* setting of the worker (see config.example.env);
# tests/Worker.Tests/TerraformTests.cs checks each one against the worker's own table of keys.

locals {
  job_zone = var.job_zone != "" ? var.job_zone : "${var.region}-a"

  # `worker run`: takes jobs from RabbitMQ and runs each on a fresh GCE VM.
  worker_env = {
    WORKER_PROVIDER_NAME         = "gce"
    WORKER_QUEUE_TYPE            = "amqp"
    WORKER_QUEUE_NAME            = var.queue_name
    WORKER_AMQP_URI              = var.amqp_uri
    WORKER_LOGS_AMQP_URI         = var.logs_amqp_uri
    WORKER_BUILD_API_URI         = var.build_api_uri
    WORKER_POOL_SIZE             = tostring(var.pool_size)
    WORKER_FLEET                 = var.fleet_name
    WORKER_HTTP_ADDR             = ":${var.http_port}"
    WORKER_HTTP_AUTH_TOKEN       = var.http_auth_token
    WORKER_MAX_LIFETIME          = var.max_lifetime
    WORKER_SHUTDOWN_TIMEOUT      = var.shutdown_timeout
    WORKER_HARD_TIMEOUT          = var.hard_timeout
    WORKER_STARTUP_TIMEOUT       = var.startup_timeout
    WORKER_SCRIPT_UPLOAD_TIMEOUT = var.script_upload_timeout
    WORKER_LOG_FORMAT            = "json"
    WORKER_GCE_PROJECT_ID        = var.project_id
    WORKER_GCE_ZONE              = local.job_zone
    WORKER_GCE_REGION            = var.region
    WORKER_GCE_NETWORK           = var.network
    WORKER_GCE_SUBNETWORK        = var.subnetwork
    WORKER_GCE_MACHINE_TYPE      = var.job_machine_type
    WORKER_GCE_DISK_SIZE         = tostring(var.job_disk_size_gb)
    WORKER_GCE_IMAGE_PROJECT_ID  = var.job_image_project_id
    WORKER_GCE_IMAGE_DEFAULT     = var.job_image_default
    WORKER_GCE_PREEMPTIBLE       = tostring(var.job_preemptible)
    WORKER_GCE_PUBLIC_IP         = tostring(var.job_public_ip)
    # Hosts and job VMs share the VPC, so SSH goes over internal addresses (the firewall rule below allows it).
    WORKER_GCE_PUBLIC_IP_CONNECT = "false"
  }

  # `worker cleanup`: the sidecar on every host. It needs no broker, so it gets no broker credentials.
  cleanup_env = {
    WORKER_PROVIDER_NAME    = "gce"
    WORKER_FLEET            = var.fleet_name
    WORKER_LOG_FORMAT       = "json"
    WORKER_GCE_PROJECT_ID   = var.project_id
    WORKER_GCE_ZONE         = local.job_zone
    WORKER_GCE_REGION       = var.region
    WORKER_CLEANUP_INTERVAL = var.cleanup_interval
  }

  # docker --env-file format: one KEY=value a line; empty values are the same as unset for the worker.
  worker_env_file  = join("\n", [for key, value in merge(local.worker_env, var.extra_env) : "${key}=${value}"])
  cleanup_env_file = join("\n", [for key, value in local.cleanup_env : "${key}=${value}"])
}
