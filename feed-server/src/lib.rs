//! NuGet V3 feed server on object storage.
//!
//! Layers, data flowing one way: [`http`] -> [`api`] (protocol views) -> [`feed`] (state and
//! operations) -> [`storage`] (object layout on `object_store`), with [`package`] (ids, versions,
//! nuspec and nupkg parsing) pure and shared.

pub mod config;
pub mod package;
#[cfg(feature = "testing")]
pub mod testing;
