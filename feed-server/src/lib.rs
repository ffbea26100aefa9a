//! NuGet V3 feed server on object storage.
//!
//! Layers, data flowing one way: [`http`] -> [`api`] (protocol views) -> [`feed`] (state and
//! operations) -> [`storage`] (object layout on `object_store`), with [`package`] (ids, versions,
//! nuspec and nupkg parsing) pure and shared. [`upstream`] serves and caches other feeds'
//! packages for ids this feed does not have. [`trust`] proves trusted publishers' OIDC tokens
//! and keeps the temporary keys they are exchanged for. [`server`] wires them to a
//! [`config::Config`].

pub mod api;
pub mod auth;
pub mod config;
pub mod feed;
#[cfg(feature = "testing")]
pub mod fuzzing;
pub mod http;
pub mod package;
pub mod server;
mod startup;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trust;
pub mod upstream;
pub mod web;
