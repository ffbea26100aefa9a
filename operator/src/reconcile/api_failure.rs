//! How a request to the apiserver failed, as a typed kind, and which kinds pass by themselves.
//! The driver decides from it whether a failure is shown on the feed at once or retried once
//! silently first; metrics and logs use its label.

/// The kind of a failed apiserver request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFailure {
    /// 409: someone else changed the object first; the next attempt reads it again.
    Conflict,
    /// 403: the operator's RBAC does not allow the request.
    Forbidden,
    /// 404: the object (or its namespace) is gone.
    NotFound,
    /// 400, 422 and other 4xx: the schema, an admission webhook or a quota said no.
    Rejected,
    /// 429: the apiserver asked to slow down.
    TooManyRequests,
    /// 5xx: the apiserver (or a webhook it called) failed.
    ServerError,
    /// No answer: connection, TLS or timeout.
    Transport,
}

impl ApiFailure {
    /// The kind of `error`.
    pub fn of(error: &kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => Self::from_code(status.code),
            _ => ApiFailure::Transport,
        }
    }

    fn from_code(code: u16) -> Self {
        match code {
            409 => ApiFailure::Conflict,
            403 => ApiFailure::Forbidden,
            404 => ApiFailure::NotFound,
            429 => ApiFailure::TooManyRequests,
            500.. => ApiFailure::ServerError,
            _ => ApiFailure::Rejected,
        }
    }

    /// Whether the failure often passes by itself (a conflict with a concurrent writer, a
    /// restarting apiserver), so one silent retry is worth it before the feed shows it. A
    /// refusal (RBAC, schema, webhook) will not pass without a change, so it is shown at once.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ApiFailure::Conflict
                | ApiFailure::TooManyRequests
                | ApiFailure::ServerError
                | ApiFailure::Transport
        )
    }

    /// Metric and log label.
    pub fn label(self) -> &'static str {
        match self {
            ApiFailure::Conflict => "Conflict",
            ApiFailure::Forbidden => "Forbidden",
            ApiFailure::NotFound => "NotFound",
            ApiFailure::Rejected => "Rejected",
            ApiFailure::TooManyRequests => "TooManyRequests",
            ApiFailure::ServerError => "ServerError",
            ApiFailure::Transport => "Transport",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_failures_are_transient() {
        let kinds: Vec<(u16, bool)> = [400, 403, 404, 409, 422, 429, 500, 503]
            .iter()
            .map(|c| (*c, ApiFailure::from_code(*c).is_transient()))
            .collect();
        assert_eq!(
            kinds,
            [
                (400, false),
                (403, false),
                (404, false),
                (409, true),
                (422, false),
                (429, true),
                (500, true),
                (503, true)
            ]
        );
        assert_eq!(ApiFailure::from_code(422).label(), "Rejected");
    }
}
