# An environment applied and checked through the module's outputs; `terraform
# test` destroys it afterwards.
variables {
  name              = "module-apply"
  ssh_ingress_cidrs = ["203.0.113.0/24"]
}

run "apply_serves_and_exports" {
  command = apply

  assert {
    condition     = startswith(output.url, "http://") && length(output.url) > length("http://")
    error_message = "no load balancer address: ${output.url}"
  }

  assert {
    condition     = startswith(output.vpc_id, "vpc-")
    error_message = "no VPC ID"
  }

  assert {
    condition     = length(output.public_subnet_ids) == 2 && length(output.private_subnet_ids) == 2
    error_message = "not one public and one private subnet per zone"
  }

  assert {
    condition     = keys(output.public_subnet_ids) == keys(output.private_subnet_ids)
    error_message = "public and private subnets are not in the same zones"
  }

  assert {
    condition     = toset(keys(output.security_group_ids)) == toset(["alb", "app", "bastion"])
    error_message = "security groups: ${jsonencode(output.security_group_ids)}"
  }
}
