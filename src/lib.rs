//! # terraform-provider-prodvpc
//!
//! One Terraform resource, `prodvpc_environment`, that stands up, refreshes,
//! changes and removes a production AWS network environment.
//!
//! Module map, in reading order:
//! - [`plan`]: pure planning. CIDR carving, the environment spec, security
//!   rules as data, the component blueprint. No AWS, no Terraform types.
//! - [`environment`]: the resource and its data source. Schema, wire state <-> spec, validation,
//!   and the thin glue that calls the planner and the executor.
//! - [`apply`]: side effects. Discovers what exists (by the VPC in state, by
//!   tags before it is known), creates what is missing concurrently along the
//!   dependency graph, deletes in reverse.
//! - [`aws`]: one thin module per AWS service over the SDK clients.
//! - [`error`]: typed errors, their classes and their diagnostics.
//! - [`provider`]: the provider block and the AWS clients built in `configure`.
//! - [`logging`]: log lines and panics in the form Terraform reads from a
//!   provider's stderr, at the level `TF_LOG_PROVIDER` / `TF_LOG` ask for.
//! - [`docs`]: the registry's pages, rendered from `templates/` and the schemas.
//! - [`plugin`]: the transport. go-plugin handshake, mutual TLS, and the
//!   protocol-6 gRPC service that decodes requests and calls the above.
//!
//! No module imports one that imports it back (a test reads the sources).

pub mod apply;
pub mod aws;
pub mod docs;
pub mod environment;
pub mod error;
pub mod logging;
pub mod plan;
pub mod plugin;
pub mod provider;

#[cfg(test)]
mod module_graph;
