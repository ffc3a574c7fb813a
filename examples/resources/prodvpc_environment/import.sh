# Environments are imported by name.
terraform import prodvpc_environment.shop shop-prod
