# Copy to terraform.tfvars and fill in. No secret goes here: after the first apply, add each secret's
# value to Secret Manager (README.md, "Deploy").
project_id   = "my-ci-project"
region       = "us-central1"
worker_image = "us-docker.pkg.dev/my-ci-project/ci/worker:1.0.0"
# Pinned COS image; the newest: gcloud compute images describe-from-family cos-stable --project cos-cloud --format='value(selfLink)'
host_image = "projects/cos-cloud/global/images/cos-stable-REPLACE-WITH-THE-IMAGE-NAME"
queue_name = "builds.linux"
# amqp (RabbitMQ, WORKER_AMQP_URI below), http (travis's job-board: WORKER_JOB_BOARD_URL below, and travis_site), or amqp,http.
queue_type   = "amqp"
min_hosts    = 2
max_hosts    = 20
pool_size    = 10
max_lifetime = "24h"
idle_retire  = "15m"

secret_settings = ["WORKER_AMQP_URI", "WORKER_HTTP_AUTH_TOKEN", "WORKER_HONEYCOMB_API_KEY"]

# Traces, metrics and logs: to Honeycomb (its key in secret_settings), and/or to an OTLP collector.
honeycomb_dataset = "ci-worker"
trace_sample_rate = 1
otel_env = {
  OTEL_EXPORTER_OTLP_ENDPOINT = "http://otel-collector.internal:4318"
  OTEL_SERVICE_NAME           = "ci-worker"
  OTEL_RESOURCE_ATTRIBUTES    = "deployment.environment=production"
}

extra_env = {
  WORKER_LOG_TIMEOUT = "10m"
  # travis-worker's names work too.
  TRAVIS_WORKER_GCE_UPLOAD_RETRIES = "300"
  WORKER_GCE_SKIP_STOP_POLL        = "true"
}
