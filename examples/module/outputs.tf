output "url" {
  description = "Address of the application, through the load balancer."
  value       = "http://${prodvpc_environment.this.alb_dns_name}"
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = prodvpc_environment.this.vpc_id
}

output "public_subnet_ids" {
  description = "Public subnet IDs keyed by availability zone."
  value       = prodvpc_environment.this.public_subnet_ids
}

output "private_subnet_ids" {
  description = "Private subnet IDs keyed by availability zone."
  value       = prodvpc_environment.this.private_subnet_ids
}

output "private_subnet_cidrs" {
  description = "Private subnet blocks keyed by availability zone."
  value       = prodvpc_environment.this.private_subnet_cidrs
}

output "security_group_ids" {
  description = "Security group IDs keyed `alb`, `app` and, with a bastion, `bastion`."
  value       = prodvpc_environment.this.security_group_ids
}
