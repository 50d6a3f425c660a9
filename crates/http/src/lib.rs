//! What the native HTTP adapters share. [`engine`] is the one store the XML-API vendors
//! (`stowage-oss`, `stowage-cos`) are: requests, following, puts and parts checked against
//! the returned CRC-64, listing and multipart loops; each vendor supplies its configuration,
//! signing, addressing, error table and quirks. The modules below it are its plumbing,
//! parameterised by a [`Dialect`] (the `x-<vendor>-` header names). [`reply`] (telling a
//! vendor's answer from a web server's or a captive portal's) serves every store, S3 and
//! Kodo included.

pub mod call;
pub mod check;
pub mod client;
pub mod encode;
pub mod engine;
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
pub use engine::{Listing, Opened, Quirks, XmlStore, XmlVendor};
pub use parts::PartCrcs;
