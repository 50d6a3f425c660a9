//! Mechanics the native HTTP adapters (`stowage-oss`, `stowage-cos`) share, parameterised
//! by what differs between vendors (the `x-<vendor>-` header names). Each adapter keeps its
//! own protocol: signing, addressing, XML shapes and error-code table. [`reply`] (telling a
//! vendor's answer from a web server's or a captive portal's) serves every store, S3 and
//! Kodo included.

pub mod call;
pub mod check;
pub mod client;
pub mod env;
pub mod errors;
pub mod follow;
pub mod get;
pub mod parts;
pub mod reply;
pub mod uploads;
pub mod xml;

pub use call::{Call, Reply, check_status, header_str, read_reply};
pub use check::{Dialect, parse_time, part_crc, unquote};
pub use parts::PartCrcs;
