terraform {
  required_providers {
    prodvpc = {
      source  = "prodvpc/prodvpc"
      version = "~> 0.1"
    }
  }
}

# The smallest valid environment: every other input has a default.
resource "prodvpc_environment" "minimal" {
  name = "minimal"

  bastion {
    ssh_ingress_cidrs = ["198.51.100.0/24"]
  }
}
