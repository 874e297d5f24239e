output "instance_group_manager" {
  description = "The regional managed instance group of worker hosts."
  value       = google_compute_region_instance_group_manager.worker.id
}

output "instance_group" {
  description = "The instance group its hosts are in (for monitoring and `gcloud compute instance-groups list-instances`)."
  value       = google_compute_region_instance_group_manager.worker.instance_group
}

output "instance_template" {
  description = "The instance template hosts are created from."
  value       = google_compute_instance_template.worker.self_link
}

output "service_account_email" {
  description = "Identity of the worker hosts."
  value       = google_service_account.worker.email
}

output "custom_role" {
  description = "The custom role with the worker's Compute permissions."
  value       = google_project_iam_custom_role.worker.name
}

output "health_check" {
  description = "The autohealing health check (GET /healthz)."
  value       = google_compute_health_check.worker.self_link
}

output "autoscaler" {
  description = "The autoscaler that adds hosts on load (it never removes one; idle hosts leave by themselves)."
  value       = google_compute_region_autoscaler.worker.id
}

output "secrets" {
  description = "The Secret Manager secret of each secret setting: add its value with `gcloud secrets versions add NAME --data-file=-`."
  value       = { for key, secret in google_secret_manager_secret.worker : key => secret.secret_id }
}
