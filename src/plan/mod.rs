//! Pure planning: everything decided from the configuration alone, testable
//! without AWS or Terraform.

pub mod assume_role;
pub mod blueprint;
pub mod cidr;
pub mod drift;
pub mod ipv6;
pub mod layout;
pub mod regions;
pub mod security;
pub mod spec;
