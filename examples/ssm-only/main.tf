# An environment reached only through AWS Systems Manager Session Manager: no
# bastion, no SSH. The app instances carry an instance profile whose role has the
# AWS managed policy AmazonSSMManagedInstanceCore; Session Manager reaches them
# through the NAT gateways (or add VPC interface endpoints for ssm, ssmmessages
# and ec2messages).
#
# The profile is created once, outside this configuration, for example:
#   aws iam create-role --role-name app-ssm \
#     --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
#   aws iam attach-role-policy --role-name app-ssm \
#     --policy-arn arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore
#   aws iam create-instance-profile --instance-profile-name app-ssm
#   aws iam add-role-to-instance-profile --instance-profile-name app-ssm --role-name app-ssm
# The credentials Terraform runs with need iam:PassRole on the role.
#
# Then: aws ssm start-session --target <instance ID>
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

variable "instance_profile" {
  description = "Name or ARN of an instance profile whose role has AmazonSSMManagedInstanceCore."
  type        = string
  default     = "app-ssm"
}

resource "prodvpc_environment" "tools" {
  name = "ops-tools"

  app {
    port                 = 8080
    iam_instance_profile = var.instance_profile
  }

  bastion {
    enabled = false
  }
}

output "autoscaling_group_name" {
  description = "List the instances to connect to: aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names <this>"
  value       = prodvpc_environment.tools.autoscaling_group_name
}
