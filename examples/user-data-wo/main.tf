# User data that never reaches the state or a plan (Terraform 1.11 or later):
# the bootstrap script carries a secret (a registration token, say), so it is
# passed through an ephemeral variable into the write-only `user_data_wo`.
# The launch template holds it, as it must to hand it to the instances.
#
# Raise `user_data_wo_version` whenever the script changes: that writes a new
# launch template version and rolls the instances. A changed script under the
# same version changes nothing, since no state holds it to compare with.
#
#   terraform apply -var "bootstrap_script=$(cat bootstrap.sh)"
terraform {
  required_version = ">= 1.11"
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

variable "bootstrap_script" {
  description = "The app instances' boot script; kept out of state and plan."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "bootstrap_version" {
  description = "Raise it to roll out a changed bootstrap_script."
  type        = number
  default     = 1
}

resource "prodvpc_environment" "api" {
  name = "api-prod"

  app {
    port                 = 8080
    user_data_wo         = var.bootstrap_script
    user_data_wo_version = var.bootstrap_version
  }

  bastion {
    enabled = false
  }
}
