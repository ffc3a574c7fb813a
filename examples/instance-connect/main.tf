# SSH to the app instances with no bastion and no public address: an EC2
# Instance Connect Endpoint in the first private subnet. Who may connect is
# decided by IAM (ec2-instance-connect:OpenTunnel on the endpoint), and every
# tunnel is logged in CloudTrail.
#
# Connect with the AWS CLI v2:
#   aws ec2-instance-connect ssh --instance-id <instance ID> --connection-type eice
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
  name                      = "shop-prod"
  instance_connect_endpoint = true

  app {
    port = 8080
  }

  bastion {
    enabled = false
  }
}

output "instance_connect_endpoint_id" {
  description = "The endpoint the CLI tunnels through (it finds it by the instance's VPC)."
  value       = prodvpc_environment.shop.instance_connect_endpoint_id
}

output "autoscaling_group_name" {
  description = "List the instances to connect to: aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names <this>"
  value       = prodvpc_environment.shop.autoscaling_group_name
}
