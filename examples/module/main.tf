# A module that wraps prodvpc_environment with the inputs a team usually sets
# and the outputs the rest of its configuration consumes.
terraform {
  required_version = ">= 1.6"
  required_providers {
    prodvpc = {
      source  = "prodvpc/prodvpc"
      version = "~> 0.1"
    }
  }
}

resource "prodvpc_environment" "this" {
  name         = var.name
  vpc_cidr     = var.vpc_cidr
  az_count     = var.az_count
  nat_gateways = var.nat_gateways

  app {
    instance_type     = var.instance_type
    port              = var.app_port
    user_data         = var.user_data
    min_size          = var.min_size
    max_size          = var.max_size
    health_check_path = var.health_check_path
  }

  load_balancer {
    ingress_cidrs = var.ingress_cidrs
  }

  # The bastion runs only when someone may reach it.
  bastion {
    enabled           = length(var.ssh_ingress_cidrs) > 0
    ssh_ingress_cidrs = length(var.ssh_ingress_cidrs) > 0 ? var.ssh_ingress_cidrs : null
  }

  tags = var.tags
}
