# A regional managed instance group of Container-Optimized OS hosts. cloud-init on each host runs
# the worker container (`worker run`) and the cleanup sidecar (`worker cleanup`) from the same image.
# A host whose /healthz stops answering (including a worker that retired after max_lifetime and
# exited) is recreated by autohealing, from the group's current template.
#
# No job is ever killed by the group: updates are OPPORTUNISTIC (a new template reaches a host when
# it is recreated, which WORKER_MAX_LIFETIME makes every host ask for after draining), zones are
# never rebalanced, and the autoscaler only adds hosts. Hosts take themselves away when idle.

locals {
  host_tag = "${var.fleet_name}-host"
  # The tag the worker gives every job VM (src/Worker.Gce/GceBackend.cs).
  job_tag = "worker-job"
  # A regional group surges at least one host per zone while it replaces hosts.
  zone_count = length(var.host_zones) > 0 ? length(var.host_zones) : 3
  registry   = split("/", var.worker_image)[0]
}

resource "google_compute_instance_template" "worker" {
  name_prefix  = "${var.fleet_name}-"
  description  = "CI worker host: ${var.worker_image}"
  machine_type = var.host_machine_type
  tags         = [local.host_tag]

  # Not worker-fleet: that label marks the fleet's job VMs, which cleanup may delete. A host is never one.
  labels = {
    worker-host-fleet = var.fleet_name
    role              = "ci-worker-host"
  }

  disk {
    # Pinned: a COS family lookup on every apply would replace every host whenever COS releases.
    source_image = var.host_image
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

  # No secret here: anyone with viewer access reads metadata. Secrets are fetched from Secret Manager.
  metadata = {
    user-data = templatefile("${path.module}/cloud-init.yaml.tftpl", {
      image                = var.worker_image
      registry             = local.registry
      registry_login       = endswith(local.registry, "docker.pkg.dev") || endswith(local.registry, "gcr.io")
      worker_env_file      = local.worker_env_file
      cleanup_env_file     = local.cleanup_env_file
      secrets_list         = local.secrets_list
      fetch_secrets_script = file("${path.module}/fetch-secrets.sh")
      stop_grace_seconds   = var.stop_grace_seconds
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

    # Checked at plan time: a host without its queue's credentials would only fail its start, over and over.
    precondition {
      condition     = !contains(local.queue_types, "amqp") || contains(var.secret_settings, "WORKER_AMQP_URI")
      error_message = "queue_type amqp needs WORKER_AMQP_URI in secret_settings."
    }
    precondition {
      condition     = !contains(local.queue_types, "http") || contains(var.secret_settings, "WORKER_JOB_BOARD_URL")
      error_message = "queue_type http needs WORKER_JOB_BOARD_URL in secret_settings."
    }
    precondition {
      condition     = !contains(local.queue_types, "http") || var.travis_site != ""
      error_message = "queue_type http needs travis_site (org or com)."
    }
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
  name               = "${var.fleet_name}-workers"
  region             = var.region
  base_instance_name = "${var.fleet_name}-worker"
  # Changing the zones replaces the whole group, every host at once (the provider recreates the resource).
  distribution_policy_zones = length(var.host_zones) > 0 ? var.host_zones : null
  # No target_size: the autoscaler below owns it, and idle hosts lower it when they leave.

  version {
    name              = "worker"
    instance_template = google_compute_instance_template.worker.id
  }

  auto_healing_policies {
    health_check      = google_compute_health_check.worker.id
    initial_delay_sec = var.autohealing_initial_delay_sec
  }

  # A new template is applied to a host only when it is recreated: after its worker retires at max lifetime
  # (autohealing) or when it is repaired; never by deleting a busy host. No zone rebalancing deletes hosts either.
  update_policy {
    type                         = "OPPORTUNISTIC"
    minimal_action               = "REPLACE"
    instance_redistribution_type = "NONE"
    max_surge_fixed              = local.zone_count
    max_unavailable_fixed        = 0
  }

  instance_lifecycle_policy {
    force_update_on_repair = "YES"
  }
}

# Scale-out on load: the autoscaler keeps the hosts' average load gauge (busy processors plus each host's
# share of the ready jobs, over the pool size) at autoscaling_target. It never removes a host: a host that
# has run no job for idle_retire leaves the group itself (WORKER_IDLE_RETIRE), never below min_hosts.
resource "google_compute_region_autoscaler" "worker" {
  name   = "${var.fleet_name}-autoscaler"
  region = var.region
  target = google_compute_region_instance_group_manager.worker.id

  autoscaling_policy {
    min_replicas    = var.min_hosts
    max_replicas    = var.max_hosts
    cooldown_period = var.autoscaling_cooldown_sec
    mode            = "ONLY_SCALE_OUT"

    metric {
      name   = local.load_metric
      type   = "GAUGE"
      target = var.autoscaling_target
      # One series per host (gce_instance), and only this fleet's.
      filter = "resource.type = \"gce_instance\" AND metric.labels.fleet = \"${var.fleet_name}\""
    }
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
