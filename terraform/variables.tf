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
  description = "Zones of the region the hosts are spread over. Empty: every zone of the region."
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

variable "host_count" {
  type        = number
  description = "Number of worker hosts in the group."
  default     = 3
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

variable "cos_image_family" {
  type        = string
  description = "Container-Optimized OS image family of the hosts."
  default     = "cos-stable"
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
  description = "On host shutdown, seconds the worker gets to drain before it is killed; jobs it could not finish go back to the queue (unacked deliveries are redelivered)."
  default     = 80
}

# The worker's settings (WORKER_*).

variable "amqp_uri" {
  type        = string
  description = "RabbitMQ URI of the job queue, states and cancel commands (WORKER_AMQP_URI), e.g. amqps://user:pass@broker:5671/vhost."
  sensitive   = true
}

variable "logs_amqp_uri" {
  type        = string
  description = "Second RabbitMQ URI for log parts only (WORKER_LOGS_AMQP_URI). Empty: logs go over amqp_uri."
  sensitive   = true
  default     = ""
}

variable "http_auth_token" {
  type        = string
  description = "Bearer token of the control endpoints PUT /pool and POST /drain (WORKER_HTTP_AUTH_TOKEN). Empty: they are off."
  sensitive   = true
  default     = ""
}

variable "build_api_uri" {
  type        = string
  description = "travis-build compatible script API (WORKER_BUILD_API_URI); its user info is the token. Empty: the built-in script generator."
  sensitive   = true
  default     = ""
}

variable "queue_name" {
  type        = string
  description = "AMQP queue the hosts take jobs from (WORKER_QUEUE_NAME)."
  default     = "builds.linux"
}

variable "pool_size" {
  type        = number
  description = "Jobs one host runs at once (WORKER_POOL_SIZE)."
  default     = 10
}

variable "max_lifetime" {
  type        = string
  description = "After this long a host drains and its worker exits, so autohealing replaces the host (WORKER_MAX_LIFETIME). 0 turns it off."
  default     = "24h"
}

variable "shutdown_timeout" {
  type        = string
  description = "How long running jobs may take to finish when a worker drains, before they are requeued (WORKER_SHUTDOWN_TIMEOUT)."
  default     = "50m"
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

variable "job_zone" {
  type        = string
  description = "Zone job VMs are created in; others of the region are tried when it has no capacity (WORKER_GCE_ZONE). Empty: the region's zone a."
  default     = ""
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
  description = "Project holding the job images (WORKER_GCE_IMAGE_PROJECT_ID). Empty: project_id."
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

variable "extra_env" {
  type        = map(string)
  description = "Further WORKER_* settings for the worker container (see config.example.env); they override the ones above."
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.extra_env) : can(regex("^WORKER_[A-Z0-9_]+$", key))])
    error_message = "extra_env keys must be WORKER_* settings, e.g. WORKER_LOG_TIMEOUT."
  }
}
