//! Shared test support: the local AWS (moto with fault injection) and a local Lambda Runtime
//! API, plus helpers to run the real binary against them.

pub mod local_aws;
pub mod runtime_api;
pub mod soak;
