//! NuGet V3 feed server on object storage.
//!
//! Layers, data flowing one way: [`http`] -> [`api`] (protocol views) -> [`feed`] (state and
//! operations) -> [`storage`] (object layout on `object_store`), with [`package`] (ids, versions,
//! nuspec and nupkg parsing) pure and shared. [`upstream`] serves and caches other feeds'
//! packages for ids this feed does not have. [`server`] wires them to a [`config::Config`].

pub mod api;
pub mod auth;
pub mod config;
pub mod feed;
#[cfg(feature = "testing")]
pub mod fuzzing;
pub mod http;
pub mod package;
pub mod server;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;
pub mod upstream;
pub mod web;
