# How the module passes its inputs on, checked on the plan, before anything exists.
variables {
  name         = "module-plan"
  vpc_cidr     = "10.30.0.0/16"
  nat_gateways = "single"
  app_port     = 8080
}

run "plan_passes_the_inputs_on" {
  command = plan

  assert {
    condition     = prodvpc_environment.this.vpc_cidr == "10.30.0.0/16"
    error_message = "the VPC block is not the one asked for"
  }

  assert {
    condition     = prodvpc_environment.this.nat_gateways == "single"
    error_message = "the NAT strategy is not passed on"
  }

  assert {
    condition     = prodvpc_environment.this.app[0].port == 8080
    error_message = "the app port is not passed on"
  }

  assert {
    condition     = prodvpc_environment.this.bastion[0].enabled == false
    error_message = "a bastion is planned though nobody may reach it"
  }
}
