//! The WeChat protocol, with no storage and no product rules in it: message crypto
//! ([`crypto`]), push XML ([`xml`]), the component API client ([`api`]) and its mini-program code calls ([`code`]), the URLs an account owner
//! is sent to and the JS-SDK signature ([`links`]), and errcode meanings ([`errcode`]).
//!
//! The simulator (`crate::simulator`) uses the same crypto and XML, which is safe because both are
//! pinned to WeChat's official vectors, not to each other.

pub mod api;
pub mod code;
pub mod crypto;
pub mod errcode;
pub mod gateway;
pub mod links;
pub mod xml;
