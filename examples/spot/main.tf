# App instances over several instance types, part of them on Spot: two
# instances always On-Demand, a quarter of the rest On-Demand and the other
# three quarters on Spot, in the pools AWS expects to be interrupted least.
# Capacity rebalancing is on, so Auto Scaling replaces a Spot instance AWS warns
# is at risk before it is reclaimed.
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

resource "prodvpc_environment" "web" {
  name = "web-prod"

  app {
    instance_type = "t3.medium"
    min_size      = 4
    max_size      = 12

    mixed_instances {
      # in order of priority; plan checks that each is offered in the zones and
      # runs the image's architecture
      instance_types                           = ["t3.medium", "t3a.medium", "m5.large", "m6i.large"]
      on_demand_base_capacity                  = 2
      on_demand_percentage_above_base_capacity = 25
      spot_allocation_strategy                 = "price-capacity-optimized"
    }
  }

  bastion {
    enabled = false
  }
}
