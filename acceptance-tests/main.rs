//! Tests that drive the real Terraform CLI (and the plugin protocol directly)
//! against the built provider and a moto server behind the fault layer.

mod assume_role;
mod boundary;
mod credentials;
mod data_source;
mod drift;
mod exact_plans;
mod example_module;
mod failures;
mod functions;
mod generated_config;
mod harness;
mod iam_policy;
mod images;
mod inputs;
mod install;
mod instance_connect;
mod ipv6;
mod lifecycle;
mod logs;
mod many;
mod mixed_instances;
mod model_tests;
mod protocol;
mod regional_nat;
mod ssm_only;
mod updates;
mod validation;
mod write_only;
