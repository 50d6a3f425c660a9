//! stowage-region's tests, one harness: the tables, Agora storageConfig, selection and REST
//! domains, and the latency probe on local sockets.

mod agora_config;
mod botocore;
mod probe;
mod select;
mod tables;
