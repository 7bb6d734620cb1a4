//! sync-to-s3: lands Segment-spec events in S3 as delimited text objects, as Segment's
//! "AWS S3 (Actions)" destination does, from an AWS Lambda function in the user's own account.
//!
//! The contract is `SPEC.md` (shared with the project). The crate is split so that the core is
//! pure and the I/O sits at the edges:
//!
//! - [`json`]: a borrowed JSON tree that keeps number text and key order;
//! - [`config`]: the configuration document, environment overrides and validation;
//! - [`source`]: the doors: Lambda payload shapes (SQS, API Gateway, EventBridge, direct) and the
//!   events in them, one file per door;
//! - [`mapping`]: directives, cells, transforms and subscriptions;
//! - [`plan`], [`format`](mod@format), [`key`]: rows grouped into objects, their bytes and keys;
//! - [`sink`]: the one trait over storage, with the dry-run directory and in-memory sinks;
//! - [`pipeline`]: the one pure pipeline, payload → door checks → events → planned objects;
//! - [`response`]: the answers, per door;
//! - [`handler`]: plan → write within the deadline → respond;
//! - [`aws`]: SDK configuration, STS AssumeRole, SSM — the only place that knows endpoints;
//! - [`lambda`]: init once, then serve the Lambda Runtime API;
//! - [`backfill`]: Segment S3 Classic logs replayed, streamed object by object;
//! - [`cli`]: the `invoke`, `config`, `secrets` and `backfill` subcommands.
//!
//! [`aws`], [`backfill`], [`lambda`], [`cli`] and the S3 sink need the `aws` feature (on by default); without it
//! the crate is the pure core, which is what the fuzz targets build.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod backfill;
pub mod bench_support;
#[cfg(feature = "aws")]
pub mod cli;
pub mod config;
pub mod format;
pub mod handler;
pub mod json;
pub mod key;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod mapping;
pub mod memory;
pub mod pipeline;
pub mod plan;
pub mod response;
pub mod sink;
pub mod source;
