# The complete environment: every block set, outputs for everything a user needs.
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
  default_tags {
    tags = { managed_by = "terraform" }
  }
}

resource "prodvpc_environment" "shop" {
  name         = "shop-prod"
  vpc_cidr     = "10.20.0.0/16"
  az_count     = 2
  nat_gateways = "one_per_az"

  app {
    instance_type     = "t3.micro"
    port              = 8080
    user_data         = "#!/bin/bash\necho ok > /tmp/ready\n"
    min_size          = 2
    max_size          = 6
    cpu_target        = 50
    health_check_path = "/health"
  }

  load_balancer {
    ingress_cidrs = ["0.0.0.0/0"]
  }

  bastion {
    enabled           = true
    instance_type     = "t3.nano"
    ssh_ingress_cidrs = ["203.0.113.0/24"]
  }

  tags = { team = "shop" }
}

output "url" { value = "http://${prodvpc_environment.shop.alb_dns_name}" }
output "vpc_id" { value = prodvpc_environment.shop.vpc_id }
output "availability_zones" { value = prodvpc_environment.shop.availability_zones }
output "public_subnet_ids" { value = prodvpc_environment.shop.public_subnet_ids }
output "private_subnet_ids" { value = prodvpc_environment.shop.private_subnet_ids }
output "nat_public_ips" { value = prodvpc_environment.shop.nat_public_ips }
output "security_group_ids" { value = prodvpc_environment.shop.security_group_ids }
output "autoscaling_group_name" { value = prodvpc_environment.shop.autoscaling_group_name }
output "bastion_public_ip" { value = prodvpc_environment.shop.bastion_public_ip }
