# A regional managed instance group of Container-Optimized OS hosts. cloud-init on each host runs
# the worker container (`worker run`) and the cleanup sidecar (`worker cleanup`) from the same image.
# A host whose /healthz stops answering (including a worker that retired after max_lifetime and
# exited) is recreated by autohealing.

locals {
  host_tag = "${var.fleet_name}-host"
  # The tag the worker gives every job VM (src/Worker.Gce/GceBackend.cs).
  job_tag = "worker-job"
  # A regional group surges at least one host per zone while it replaces hosts.
  zone_count = length(var.host_zones) > 0 ? length(var.host_zones) : 3
  registry   = split("/", var.worker_image)[0]
}

data "google_compute_image" "cos" {
  project = "cos-cloud"
  family  = var.cos_image_family
}

resource "google_compute_instance_template" "worker" {
  name_prefix  = "${var.fleet_name}-"
  description  = "CI worker host: ${var.worker_image}"
  machine_type = var.host_machine_type
  tags         = [local.host_tag]

  labels = {
    worker-fleet = var.fleet_name
    role         = "ci-worker-host"
  }

  disk {
    source_image = data.google_compute_image.cos.self_link
    boot         = true
    auto_delete  = true
    disk_size_gb = var.host_disk_size_gb
    disk_type    = "pd-balanced"
  }

  network_interface {
    network    = var.network
    subnetwork = var.subnetwork != "" ? var.subnetwork : null

    dynamic "access_config" {
      for_each = var.host_public_ip ? [1] : []
      content {}
    }
  }

  metadata = {
    user-data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
      image              = var.worker_image
      registry           = local.registry
      registry_login     = endswith(local.registry, "docker.pkg.dev") || endswith(local.registry, "gcr.io")
      worker_env_file    = local.worker_env_file
      cleanup_env_file   = local.cleanup_env_file
      stop_grace_seconds = var.stop_grace_seconds
    })
    google-logging-enabled    = "true"
    google-monitoring-enabled = "true"
    enable-oslogin            = "TRUE"
  }

  service_account {
    email  = google_service_account.worker.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  scheduling {
    automatic_restart   = true
    on_host_maintenance = "MIGRATE"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_health_check" "worker" {
  name                = "${var.fleet_name}-healthz"
  description         = "The worker answers GET /healthz while it is alive."
  check_interval_sec  = 10
  timeout_sec         = 5
  healthy_threshold   = 2
  unhealthy_threshold = 3

  http_health_check {
    port         = var.http_port
    request_path = "/healthz"
  }
}

resource "google_compute_region_instance_group_manager" "worker" {
  name                      = "${var.fleet_name}-workers"
  region                    = var.region
  base_instance_name        = "${var.fleet_name}-worker"
  distribution_policy_zones = length(var.host_zones) > 0 ? var.host_zones : null
  target_size               = var.host_count

  version {
    name              = "worker"
    instance_template = google_compute_instance_template.worker.id
  }

  auto_healing_policies {
    health_check      = google_compute_health_check.worker.id
    initial_delay_sec = var.autohealing_initial_delay_sec
  }

  # A new template (e.g. a new image) replaces hosts one surge at a time, never lowering capacity.
  update_policy {
    type                         = "PROACTIVE"
    minimal_action               = "REPLACE"
    instance_redistribution_type = "PROACTIVE"
    max_surge_fixed              = local.zone_count
    max_unavailable_fixed        = 0
  }
}

# Google's health checkers reach /healthz; nothing else reaches the port.
resource "google_compute_firewall" "health_check" {
  name          = "${var.fleet_name}-healthz"
  network       = var.network
  description   = "Health checks of the CI worker hosts."
  source_ranges = ["35.191.0.0/16", "130.211.0.0/22"]
  target_tags   = [local.host_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(var.http_port)]
  }
}

# Workers connect to their job VMs over SSH on internal addresses.
resource "google_compute_firewall" "job_ssh" {
  name        = "${var.fleet_name}-job-ssh"
  network     = var.network
  description = "SSH from the CI worker hosts to their job VMs."
  source_tags = [local.host_tag]
  target_tags = [local.job_tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}
