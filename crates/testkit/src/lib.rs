//! Test infrastructure for Stowage: real servers on loopback sockets, fault injection,
//! and the conformance suite that every `ObjectStore` implementation runs.

pub mod adapter_tests;
pub mod azurite;
pub mod conformance;
pub mod cos;
pub mod fake_gcs;
pub mod faulty;
pub mod hooked;
pub mod http_static;
pub mod kodo;
pub mod launch;
pub mod moto;
pub mod oss;
pub mod proxy;
pub mod s3s_server;
pub mod tls_front;
pub mod tmpfs;
mod xml_api;
pub mod xml_suite;
