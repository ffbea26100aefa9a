//! The change a successful write made to a version (which operation, which package), as data a
//! handler returns with its status, for the audit trail (`audit`) to log. A file of its own so
//! the handlers and the audit middleware (which reads their keys) do not import each other.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::Publisher;
use crate::package::{NuGetVersion, PackageId};

/// What a write did to a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Push,
    SymbolPush,
    Unlist,
    Relist,
    Delete,
    Deprecate,
    Undeprecate,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Push => "push",
            Operation::SymbolPush => "symbol push",
            Operation::Unlist => "unlist",
            Operation::Relist => "relist",
            Operation::Delete => "delete",
            Operation::Deprecate => "deprecate",
            Operation::Undeprecate => "undeprecate",
        }
    }
}

/// The change a handler made, carried in its response's extensions to the audit trail.
#[derive(Debug, Clone)]
pub struct Change {
    pub operation: Operation,
    pub id: PackageId,
    pub version: NuGetVersion,
    /// Who made it.
    pub by: Publisher,
}

/// A successful write's answer: its status, and the change it made for the audit trail.
pub struct Changed(pub StatusCode, pub Change);

impl IntoResponse for Changed {
    fn into_response(self) -> Response {
        let Changed(status, change) = self;
        let mut response = status.into_response();
        response.extensions_mut().insert(change);
        response
    }
}
