terraform {
  required_providers {
    prodvpc = {
      source  = "prodvpc/prodvpc"
      version = "~> 0.1"
    }
  }
}

# Credentials and region come from the standard AWS chain (environment,
# profiles, SSO, instance metadata); everything here is optional.
provider "prodvpc" {
  region      = "us-east-1"
  max_retries = 9

  default_tags {
    tags = { cost_center = "platform" }
  }
}
