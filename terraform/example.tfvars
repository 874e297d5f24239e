# Copy to terraform.tfvars and fill in. Secrets are better passed as TF_VAR_amqp_uri and
# TF_VAR_http_auth_token environment variables than written to a file.
project_id   = "my-ci-project"
region       = "us-central1"
worker_image = "us-docker.pkg.dev/my-ci-project/ci/worker:1.0.0"
queue_name   = "builds.linux"
host_count   = 3
pool_size    = 10
max_lifetime = "24h"

extra_env = {
  WORKER_LOG_TIMEOUT        = "10m"
  WORKER_GCE_UPLOAD_RETRIES = "300"
  WORKER_GCE_SKIP_STOP_POLL = "true"
}
