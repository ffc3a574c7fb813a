# One regional NAT gateway for the whole VPC instead of one per zone: no public
# subnet hosts it, each zone's traffic leaves from that zone's Elastic IP
# (nat_public_ips, keyed by zone), and it survives a zone outage as one gateway
# per zone does. Switching an existing environment from "one_per_az" keeps the
# addresses: apply deletes the zonal gateways first, and the private subnets
# have no internet egress for the few minutes until the regional one is ready.
terraform {
  required_providers {
    prodvpc = {
      source  = "prodvpc/prodvpc"
      version = "~> 0.1"
    }
  }
}

provider "prodvpc" {
  region = "us-east-1"
}

resource "prodvpc_environment" "api" {
  name         = "api-prod"
  az_count     = 3
  nat_gateways = "regional"

  bastion {
    enabled = false
  }
}

output "egress_addresses" {
  description = "Allow-list these: the app's outbound traffic leaves from them, one per zone."
  value       = prodvpc_environment.api.nat_public_ips
}
