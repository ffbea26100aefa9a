//! The feed server's integration tests, one binary (one link of the server and its
//! dependencies instead of one per file): each module drives the real server, in process
//! ([`common::server`]) or as separate processes of its binary ([`common::process`]).

mod common;

mod audit_trail;
mod cache_and_startup;
mod concurrency;
mod crash;
mod deleted_versions;
mod download_redirects;
mod external_tools;
mod fuzz_corpus;
mod hostile_input;
mod interop_nuget_exe;
mod maintenance;
mod odata;
mod outage;
mod protocol;
mod proxies;
mod refused_uploads;
mod storage_backends;
mod upstreams;
mod web;
