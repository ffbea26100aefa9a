//! Request body limits: the router sets them, and the errors that reject a body quote them.

/// Body limit of every request but uploads (which enforce the package limit as they stream).
pub(super) const SMALL_BODY_LIMIT: usize = 64 * 1024;
