//! Side effects: discovering what exists, creating what is missing and
//! deleting everything, against the AWS clients.

pub mod executor;
pub mod inventory;
pub mod waiters;
