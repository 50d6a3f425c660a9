//! The `stowage` binary end to end, one module per area. One test binary rather than one
//! per file: each binary links aws-sdk-s3 and every adapter, so several cost minutes of
//! linking and hundreds of megabytes each.

mod common;

mod azure;
mod commands;
mod cos;
mod doctor;
mod endpoints;
mod fail_closed;
mod gcs;
mod kodo;
mod oss;
mod presets;
mod presign;
mod select;
mod tls;
mod verify_corpus;
