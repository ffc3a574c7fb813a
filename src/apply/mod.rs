//! Side effects: discovering what exists, creating what is missing and
//! deleting everything, against the AWS clients. The orchestration lives in
//! `executor` (reconcile) and `destroy`; each family of components has its own
//! module with its ensure, delete and drift steps.

mod bastion;
pub mod components;
mod compute;
pub mod destroy;
pub mod drift;
mod endpoints;
pub mod executor;
mod flow_logs;
mod instance_connect;
pub mod inventory;
mod ipv6;
mod load_balancer;
mod network;
pub mod posture;
mod routing;
mod run;
mod security;
mod teardown;
pub mod waiters;
