//! Machinery the OSS and COS emulators share (their protocols are close: XML APIs with
//! the same shapes for listings and multipart). Each emulator keeps its own signature
//! verification, addressing, headers and error XML.

pub mod multipart;
pub mod object;
pub mod ops;
pub mod request;
pub mod server;
pub mod state;
pub mod xml;
