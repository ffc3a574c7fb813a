# A dual-stack environment: an Amazon-provided IPv6 /56 on the VPC and a /64 in
# every subnet, next to the IPv4 layout, which stays as it is. The load balancer
# is dualstack (its DNS name answers AAAA too), the public subnets route ::/0 to
# the internet gateway, and the private subnets route ::/0 to an egress-only
# internet gateway: outbound IPv6 only, with no hourly or per-GB processing
# charge.
#
# With nat_gateways = "none" there is no NAT gateway and no Elastic IP to pay
# for: the app instances reach IPv6 destinations through the egress-only
# gateway, and S3 and DynamoDB over IPv4 through the gateway endpoints
# (vpc_endpoints, on by default), but nothing else that is IPv4-only (there is
# no DNS64/NAT64). Choose "single" or "one_per_az" if the app needs IPv4
# destinations on the internet.
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

resource "prodvpc_environment" "shop" {
  name         = "shop-prod"
  ipv6         = true
  nat_gateways = "none"

  app {
    port = 8080
  }

  load_balancer {
    ingress_cidrs      = ["0.0.0.0/0"]
    ingress_ipv6_cidrs = ["::/0"] # the default with ipv6
  }

  bastion {
    ssh_ingress_cidrs      = ["203.0.113.0/24"]
    ssh_ingress_ipv6_cidrs = ["2001:db8:1234::/48"] # ::/0 is refused
  }
}

output "url" {
  description = "Reachable over IPv4 and IPv6."
  value       = "http://${prodvpc_environment.shop.alb_dns_name}"
}

output "vpc_ipv6_cidr" {
  description = "The /56 AWS gave the VPC (known after the first apply)."
  value       = prodvpc_environment.shop.vpc_ipv6_cidr
}

output "public_subnet_ipv6_cidrs" {
  description = "A /64 per public subnet, keyed by zone."
  value       = prodvpc_environment.shop.public_subnet_ipv6_cidrs
}

output "private_subnet_ipv6_cidrs" {
  description = "A /64 per private subnet, keyed by zone."
  value       = prodvpc_environment.shop.private_subnet_ipv6_cidrs
}

output "egress_only_internet_gateway_id" {
  description = "The private subnets' way out over IPv6."
  value       = prodvpc_environment.shop.egress_only_internet_gateway_id
}
