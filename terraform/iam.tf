# The hosts' identity: a service account with a custom role holding only the Compute calls the
# worker and its cleanup sidecar make (src/Worker.Gce), plus writing logs and metrics (the load gauge
# the autoscaler reads), reading the job images and its own secrets (secrets.tf).

resource "google_service_account" "worker" {
  account_id   = "${var.fleet_name}-host"
  display_name = "CI worker hosts of fleet ${var.fleet_name}"
}

locals {
  worker_permissions = [
    # Create a job VM: instances.insert with a boot disk from an image, in a subnetwork, with the
    # fleet's labels, its SSH key and auto-implode script in metadata, and the worker-job tag.
    "compute.instances.create",
    "compute.disks.create",
    "compute.images.useReadOnly",
    "compute.subnetworks.use",
    "compute.subnetworks.useExternalIp",
    # When only the network is named (WORKER_GCE_SUBNETWORK empty), the check is on the network.
    "compute.networks.use",
    "compute.networks.useExternalIp",
    "compute.instances.setMetadata",
    "compute.instances.setLabels",
    "compute.instances.setTags",
    # Wait for it, find its address, and delete it (the cleanup sidecar too).
    "compute.instances.get",
    "compute.instances.list",
    "compute.instances.delete",
    "compute.zoneOperations.get",
    "compute.globalOperations.list",
    # Pick the job's image and a zone with capacity.
    "compute.images.get",
    "compute.images.list",
    "compute.zones.list",
    # Probe the API while a host takes no jobs after host failures (a get of the zone it uses).
    "compute.zones.get",
    # A host that has been idle leaves its group: the group's target size, then deleteInstances on its own instance.
    "compute.instanceGroupManagers.get",
    "compute.instanceGroupManagers.update",
  ]
}

resource "google_project_iam_custom_role" "worker" {
  role_id     = "${replace(var.fleet_name, "-", "_")}_worker"
  title       = "CI worker (${var.fleet_name})"
  description = "The Compute Engine calls of the CI worker and its cleanup sidecar."
  permissions = local.worker_permissions
}

resource "google_project_iam_member" "worker" {
  project = var.project_id
  role    = google_project_iam_custom_role.worker.name
  member  = "serviceAccount:${google_service_account.worker.email}"
}

# Container-Optimized OS ships container logs and host metrics with these; the worker writes its load gauge.
resource "google_project_iam_member" "host" {
  for_each = toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.worker.email}"
}

# Pulling the worker image from Artifact Registry (or gcr.io) in this project.
resource "google_project_iam_member" "image_pull" {
  project = var.project_id
  role    = "roles/artifactregistry.reader"
  member  = "serviceAccount:${google_service_account.worker.email}"
}

# Job images kept in another project: listing and using them needs imageUser there, or every image
# lookup answers 403 and every job fails.
resource "google_project_iam_member" "job_images" {
  count   = var.job_image_project_id != "" && var.job_image_project_id != var.project_id ? 1 : 0
  project = var.job_image_project_id
  role    = "roles/compute.imageUser"
  member  = "serviceAccount:${google_service_account.worker.email}"
}
