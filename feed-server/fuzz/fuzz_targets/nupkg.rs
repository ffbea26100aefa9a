//! Whole `.nupkg` / `.snupkg` zips (`Archive::open`, `verify`, entry reads, PDB ids) within small limits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nuget_feed_server::fuzzing::nupkg(data));
