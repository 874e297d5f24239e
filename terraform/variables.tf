# Where the fleet runs.

variable "project_id" {
  type        = string
  description = "Project of the worker hosts and of the job VMs they create."
}

variable "region" {
  type        = string
  description = "Region of the managed instance group (its hosts are spread over the region's zones)."
  default     = "us-central1"
}

variable "host_zones" {
  type        = list(string)
  description = "Zones of the region the hosts are spread over (the group's distribution_policy_zones). Empty: the group picks them. Changing it replaces the whole group, every host at once, killing running jobs: set it before the first apply."
  default     = []
}

variable "fleet_name" {
  type        = string
  description = "Name of this fleet: prefixes every resource, and labels every job VM so cleanup only touches this fleet's machines (WORKER_FLEET)."
  default     = "ci-worker"

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{2,19}$", var.fleet_name))
    error_message = "fleet_name must be 3 to 20 characters: a lower-case letter, then lower-case letters, digits or '-'."
  }
}

# The hosts.

variable "worker_image" {
  type        = string
  description = "The worker container image (docker/Dockerfile), e.g. us-docker.pkg.dev/PROJECT/ci/worker:1.0.0."
}

variable "min_hosts" {
  type        = number
  description = "Fewest hosts: the autoscaler's minimum, and an idle host does not leave a group this small (WORKER_MIN_HOSTS)."
  default     = 1
}

variable "max_hosts" {
  type        = number
  description = "Most hosts the autoscaler adds on load."
  default     = 10
}

variable "autoscaling_target" {
  type        = number
  description = "Average load per host the autoscaler keeps (1 = every processor busy and nothing waiting); above it, it adds hosts."
  default     = 0.8
}

variable "autoscaling_cooldown_sec" {
  type        = number
  description = "Seconds a new host's load is left out of the autoscaler's sums while it boots and pulls the image."
  default     = 180
}

variable "idle_retire" {
  type        = string
  description = "A host that has run no job for this long leaves the group, unless the group holds min_hosts or fewer (WORKER_IDLE_RETIRE). 0 turns scale-in off."
  default     = "15m"
}

variable "host_machine_type" {
  type        = string
  description = "Machine type of a worker host; it only drives job VMs over the API and SSH, so it can be small."
  default     = "e2-standard-2"
}

variable "host_disk_size_gb" {
  type        = number
  description = "Boot disk of a worker host, in GB."
  default     = 20
}

variable "host_image" {
  type        = string
  description = "Container-Optimized OS image of the hosts, pinned (e.g. projects/cos-cloud/global/images/cos-stable-...; the newest: gcloud compute images describe-from-family cos-stable --project cos-cloud --format='value(selfLink)'). A new value reaches hosts as they are recreated."
}

variable "network" {
  type        = string
  description = "VPC network of the hosts and the job VMs."
  default     = "default"
}

variable "subnetwork" {
  type        = string
  description = "Subnetwork of the hosts and the job VMs (needed for custom-mode networks). Empty: the network's subnetwork in the region."
  default     = ""
}

variable "host_public_ip" {
  type        = bool
  description = "Give hosts an external IP. Without one, the network needs Cloud NAT to reach the broker and the image registry."
  default     = true
}

variable "http_port" {
  type        = number
  description = "Port of the worker's health and control server (WORKER_HTTP_ADDR); the autohealing health check asks /healthz on it."
  default     = 8080
}

variable "autohealing_initial_delay_sec" {
  type        = number
  description = "Seconds a new host gets to boot and pull the image before failing health checks replace it."
  default     = 300
}

variable "stop_grace_seconds" {
  type        = number
  description = "On host shutdown, seconds docker gives the worker before it kills it (WORKER_STOP_WINDOW). GCE gives a stopped or deleted host about 90 s in all. Running jobs get 45 % of it to finish (WORKER_SHUTDOWN_TIMEOUT); the rest requeues the others and deletes their VMs."
  default     = 75

  validation {
    condition     = var.stop_grace_seconds >= 10 && var.stop_grace_seconds <= 80
    error_message = "stop_grace_seconds must be from 10 to 80, so the worker's drain and systemd's stop fit GCE's ~90 s."
  }
}

# The worker's settings (WORKER_*).

variable "secret_settings" {
  type        = set(string)
  description = "The worker's secret settings the hosts read from Secret Manager, one secret each (named FLEET-amqp-uri...; add its value as a secret version). WORKER_AMQP_URI is required with queue_type amqp, WORKER_JOB_BOARD_URL with http; add WORKER_LOGS_AMQP_URI, WORKER_HTTP_AUTH_TOKEN (turns PUT /pool and POST /drain on), WORKER_BUILD_API_URI, WORKER_HONEYCOMB_API_KEY (sends traces, metrics and logs to Honeycomb) or OTEL_EXPORTER_OTLP_HEADERS (the OTLP collector's auth header) to use them."
  default     = ["WORKER_AMQP_URI"]

  validation {
    condition = alltrue([
      for key in var.secret_settings : contains(["WORKER_AMQP_URI", "WORKER_JOB_BOARD_URL", "WORKER_LOGS_AMQP_URI", "WORKER_HTTP_AUTH_TOKEN", "WORKER_BUILD_API_URI", "WORKER_HONEYCOMB_API_KEY", "OTEL_EXPORTER_OTLP_HEADERS"], key)
    ])
    error_message = "secret_settings may hold WORKER_AMQP_URI, WORKER_JOB_BOARD_URL, WORKER_LOGS_AMQP_URI, WORKER_HTTP_AUTH_TOKEN, WORKER_BUILD_API_URI, WORKER_HONEYCOMB_API_KEY and OTEL_EXPORTER_OTLP_HEADERS."
  }
}

variable "queue_type" {
  type        = string
  description = "Where the hosts take jobs from (WORKER_QUEUE_TYPE): amqp (RabbitMQ; WORKER_AMQP_URI in secret_settings), http (travis's job-board; WORKER_JOB_BOARD_URL in secret_settings, and travis_site), or amqp,http for both."
  default     = "amqp"

  validation {
    condition = (
      alltrue([for t in split(",", var.queue_type) : contains(["amqp", "http"], trimspace(t))]) &&
      length(distinct([for t in split(",", var.queue_type) : trimspace(t)])) == length(split(",", var.queue_type))
    )
    error_message = "queue_type must be amqp, http, or amqp,http."
  }
}

variable "travis_site" {
  type        = string
  description = "The travis site job-board's jobs are for, org or com (WORKER_TRAVIS_SITE); required with queue_type http."
  default     = ""
}

variable "queue_name" {
  type        = string
  description = "Queue the hosts take jobs from (WORKER_QUEUE_NAME): the AMQP queue, or job-board's queue name."
  default     = "builds.linux"
}

variable "pool_size" {
  type        = number
  description = "Jobs one host runs at once (WORKER_POOL_SIZE)."
  default     = 10
}

variable "max_lifetime" {
  type        = string
  description = "After this long a host takes no new job, lets its running ones end and exits, so autohealing recreates it from the current template (WORKER_MAX_LIFETIME): how long a rollout takes. 0 turns it off."
  default     = "24h"
}

variable "hard_timeout" {
  type        = string
  description = "Longest a job's script may run unless the job says otherwise (WORKER_HARD_TIMEOUT)."
  default     = "50m"
}

variable "startup_timeout" {
  type        = string
  description = "Longest a job VM may take to boot (WORKER_STARTUP_TIMEOUT)."
  default     = "8m"
}

variable "script_upload_timeout" {
  type        = string
  description = "Longest the script upload to a job VM may take (WORKER_SCRIPT_UPLOAD_TIMEOUT)."
  default     = "7m"
}

# Job VMs (WORKER_GCE_*).

variable "job_zones" {
  type        = list(string)
  description = "Zones job VMs are spread over; the region's others are tried when they have no capacity (WORKER_GCE_ZONES). Empty: every zone of the region that is UP."
  default     = []
}

variable "job_machine_type" {
  type        = string
  description = "Machine type of a job VM (WORKER_GCE_MACHINE_TYPE)."
  default     = "n2-standard-2"
}

variable "job_disk_size_gb" {
  type        = number
  description = "Boot disk of a job VM, in GB (WORKER_GCE_DISK_SIZE)."
  default     = 20
}

variable "job_image_project_id" {
  type        = string
  description = "Project holding the job images (WORKER_GCE_IMAGE_PROJECT_ID); the hosts get roles/compute.imageUser there. Empty: project_id."
  default     = ""
}

variable "job_image_default" {
  type        = string
  description = "Pattern of the image a job gets when it names none; the newest match wins (WORKER_GCE_IMAGE_DEFAULT)."
  default     = "travis-ci.+"
}

variable "job_preemptible" {
  type        = bool
  description = "Create preemptible job VMs; a preempted job is requeued (WORKER_GCE_PREEMPTIBLE)."
  default     = false
}

variable "job_spot" {
  type        = bool
  description = "Create Spot job VMs, which replace preemptible ones: as cheap, without their 24-hour limit; a preempted job is requeued. Not with job_preemptible: the worker would not start (WORKER_GCE_SPOT)."
  default     = false
}

variable "job_public_ip" {
  type        = bool
  description = "Give job VMs an external IP, so builds reach the internet without Cloud NAT (WORKER_GCE_PUBLIC_IP)."
  default     = true
}

variable "cleanup_interval" {
  type        = string
  description = "How often each host's cleanup sidecar looks for job VMs a crashed or replaced worker left behind (WORKER_CLEANUP_INTERVAL)."
  default     = "5m"
}

# Telemetry (README.md, "Telemetry"). The Honeycomb key and the OTLP headers are secrets: secret_settings.

variable "honeycomb_dataset" {
  type        = string
  description = "Honeycomb dataset of the metrics (WORKER_HONEYCOMB_DATASET); used when WORKER_HONEYCOMB_API_KEY is in secret_settings."
  default     = "worker"
}

variable "trace_sample_rate" {
  type        = number
  description = "Keep the traces of 1 in N jobs (WORKER_TRACE_SAMPLE_RATE); errored and requeued jobs are always kept."
  default     = 1

  validation {
    condition     = var.trace_sample_rate >= 1 && var.trace_sample_rate == floor(var.trace_sample_rate)
    error_message = "trace_sample_rate must be a whole number, 1 or more."
  }
}

variable "otel_env" {
  type        = map(string)
  description = "OpenTelemetry's standard settings for the worker container, e.g. OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES. No secrets here: OTEL_EXPORTER_OTLP_HEADERS goes in secret_settings."
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.otel_env) : can(regex("^OTEL_[A-Z0-9_]+$", key)) && !can(regex("HEADERS$", key))])
    error_message = "otel_env keys must be OTEL_* settings, and no *_HEADERS (they carry credentials: list OTEL_EXPORTER_OTLP_HEADERS in secret_settings)."
  }
}

variable "extra_env" {
  type        = map(string)
  description = "Further settings for the worker container (see config.example.env), as WORKER_* or travis-worker's TRAVIS_WORKER_* keys; they override the ones above. No secrets here: see secret_settings."
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.extra_env) : can(regex("^(TRAVIS_)?WORKER_[A-Z0-9_]+$", key))])
    error_message = "extra_env keys must be WORKER_* (or TRAVIS_WORKER_*) settings, e.g. WORKER_LOG_TIMEOUT."
  }
}
