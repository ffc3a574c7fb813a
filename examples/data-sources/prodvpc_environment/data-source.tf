terraform {
  required_providers {
    prodvpc = {
      source  = "prodvpc/prodvpc"
      version = "~> 0.1"
    }
  }
}

# The environment is managed by another configuration; this one builds on it.
data "prodvpc_environment" "shop" {
  name = "shop-prod"
}

output "private_subnets" {
  value = data.prodvpc_environment.shop.private_subnet_ids
}

output "app_security_group" {
  value = data.prodvpc_environment.shop.security_group_ids["app"]
}

output "url" {
  value = "http://${data.prodvpc_environment.shop.alb_dns_name}"
}

# Every plan and apply of this configuration warns while the environment's
# default security group has rules (AWS control EC2.2).
check "default_group_closed" {
  assert {
    condition     = data.prodvpc_environment.shop.posture["EC2.2"] == "pass"
    error_message = "EC2.2 ${data.prodvpc_environment.shop.posture["EC2.2"]}"
  }
}
