# The worker's secrets (broker URIs, tokens) live in Secret Manager, one secret per setting. Terraform
# creates the secrets and lets the hosts' service account read exactly these, but never holds a value:
# an operator adds each value as a secret version (see README.md), so neither the state nor the
# instance metadata contains one. worker.service fetches them at each start (fetch-secrets.sh).

locals {
  # WORKER_AMQP_URI -> ci-worker-amqp-uri, OTEL_EXPORTER_OTLP_HEADERS -> ci-worker-otel-exporter-otlp-headers
  secret_ids = { for key in var.secret_settings : key => "${var.fleet_name}-${lower(replace(trimprefix(key, "WORKER_"), "_", "-"))}" }
}

resource "google_secret_manager_secret" "worker" {
  for_each  = local.secret_ids
  secret_id = each.value

  labels = {
    worker-fleet-secret = var.fleet_name
  }

  replication {
    auto {}
  }
}

# secretAccessor on each of these secrets only, never on the project.
resource "google_secret_manager_secret_iam_member" "worker" {
  for_each  = google_secret_manager_secret.worker
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.worker.email}"
}

locals {
  # KEY=projects/PROJECT/secrets/NAME: what fetch-secrets.sh reads (names only).
  secrets_list = join("\n", [for key, secret in google_secret_manager_secret.worker : "${key}=${secret.id}"])
}
