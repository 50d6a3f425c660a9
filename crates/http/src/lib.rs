//! Mechanics the native HTTP adapters (`stowage-oss`, `stowage-cos`) share, parameterised
//! by what differs between vendors (the `x-<vendor>-` header names). Each adapter keeps its
//! own protocol: signing, addressing, XML shapes and error-code table.

pub mod call;
pub mod check;
pub mod client;
pub mod env;
pub mod errors;
pub mod follow;
pub mod get;
pub mod parts;
pub mod uploads;
pub mod xml;

pub use call::{Call, Reply, check_status, header_str};
pub use check::{Dialect, parse_time, part_crc, unquote};
pub use parts::PartCrcs;
