//! The audit trail of writes. The [`record`] middleware on the publish, symbol, deprecation and
//! token service routes, and [`Audit::refused_unrouted`] for writes no route took (`unrouted`), are
//! the one place that logs them: one INFO line per change to the feed (which package and version,
//! which operation, the NAME of the API key or trusted publisher that made it, and for a trusted
//! publisher the token's subject) and one WARN line per refused write (its status, the reason sent
//! to the client, the key name), rate-limited so a flood of refusals cannot fill a disk. The key or
//! token itself is never logged.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use super::change::Change;
use super::handlers::publish::presented_key;
use super::handlers::token::bearer_token;
use super::state::AppState;
use crate::trust;

/// Refusal lines let through at once, after a quiet spell.
const REFUSAL_BURST: f64 = 20.0;
/// Refusal lines let through per second in a sustained flood: at about 300 bytes a line, under
/// 60 MB a day however hard the feed is hammered.
const REFUSALS_PER_SECOND: f64 = 2.0;

/// State of the [`record`] middleware: the feed's keys (to name who wrote) and the refusal
/// line budget, shared by all write routes.
#[derive(Clone)]
pub struct Audit {
    state: AppState,
    refusals: Arc<Mutex<LineBudget>>,
}

impl Audit {
    pub fn new(state: AppState) -> Audit {
        Audit {
            state,
            refusals: Arc::new(Mutex::new(LineBudget::new(
                REFUSAL_BURST,
                REFUSALS_PER_SECOND,
                Instant::now(),
            ))),
        }
    }

    /// Who a refused request said it was. API keys are looked up (hashing a key costs
    /// microseconds); tokens and temporary keys are named by their kind only, as proving them
    /// again would cost a signature check or a bucket read per refusal. A change names who made
    /// it itself ([`Change::by`]).
    fn who(&self, headers: &HeaderMap) -> Who {
        match presented_key(headers) {
            // The token service takes its token as `Authorization: Bearer`.
            None if bearer_token(headers).is_some() => Who::Token,
            None => Who::NoKey,
            Some(key) if trust::looks_like_jwt(key) => Who::Token,
            Some(key) if trust::is_temporary_key(key) => Who::TemporaryKey,
            Some(key) => self
                .state
                .api_keys
                .authenticate(key)
                .map_or(Who::UnknownKey, |k| Who::Key(k.name.clone())),
        }
    }
}

/// The API key of a refused write, by name or kind: the key itself is never logged.
enum Who {
    Key(String),
    NoKey,
    UnknownKey,
    Token,
    TemporaryKey,
}

impl Who {
    /// The `key.name` field.
    fn name(&self) -> &str {
        match self {
            Who::Key(name) => name,
            Who::NoKey => "no key",
            Who::UnknownKey => "unknown key",
            Who::Token => "a token",
            Who::TemporaryKey => "a temporary key",
        }
    }
}

impl std::fmt::Display for Who {
    /// As a log message says it: "key `ci`", "no key", "unknown key".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Who::Key(name) => write!(f, "key `{name}`"),
            other => f.write_str(other.name()),
        }
    }
}

/// Logs what a write request did or why it was refused (see the module doc).
pub async fn record(State(audit): State<Audit>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let response = next.run(request).await;
    if let Some(change) = response.extensions().get::<Change>() {
        let operation = change.operation.as_str();
        let by = &change.by;
        match &by.subject {
            None => tracing::info!(
                operation,
                package.id = %change.id,
                package.version = %change.version,
                key.name = by.name.as_str(),
                "{operation} of {} {} by key `{}`",
                change.id,
                change.version,
                by.name
            ),
            Some(subject) => tracing::info!(
                operation,
                package.id = %change.id,
                package.version = %change.version,
                key.name = by.name.as_str(),
                publisher.subject = subject.as_str(),
                "{operation} of {} {} by trusted publisher `{}` (subject `{subject}`)",
                change.id,
                change.version,
                by.name
            ),
        }
    } else if response.status().is_client_error() {
        audit.refused(&response, || audit.who(&headers));
    }
    response
}

impl Audit {
    /// Logs a write refused before any route took it (an unknown path, or a method the path
    /// does not take), sent by a client with `headers`; `response` is the refusal. Reads are
    /// never refused this way by the caller, which keeps them out of the audit trail.
    pub fn refused_unrouted(&self, headers: &HeaderMap, response: &Response) {
        self.refused(response, || self.who(headers));
    }

    /// One WARN line for a refused write, if the line budget allows; `who` is only asked then,
    /// so a flood of refusals costs no key hashing beyond the lines written.
    fn refused(&self, response: &Response, who: impl FnOnce() -> Who) {
        let admitted = self
            .refusals
            .lock()
            .map_or(None, |mut budget| budget.admit(Instant::now()));
        let Some(dropped) = admitted else {
            return;
        };
        let who = who();
        let status = response.status();
        // The reason phrase is what NuGet clients print for a failed push (see `error`).
        let reason = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or_default().to_owned());
        tracing::warn!(
            status = status.as_u16(),
            reason = %reason,
            key.name = who.name(),
            refusals.dropped = dropped,
            "write refused with {status} for {who}{}",
            if dropped > 0 {
                format!(" ({dropped} more refusals not logged)")
            } else {
                String::new()
            }
        );
    }
}

/// A token bucket of log lines: `burst` at once, then `per_second`. What it turns away is
/// counted and reported by the next line it lets through. (One mutex-guarded float is all a
/// log throttle needs; a rate-limiting crate would be a dependency for ten lines.)
#[derive(Debug)]
struct LineBudget {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
    dropped: u64,
}

impl LineBudget {
    fn new(burst: f64, per_second: f64, now: Instant) -> LineBudget {
        LineBudget {
            burst,
            per_second,
            tokens: burst,
            last: now,
            dropped: 0,
        }
    }

    /// `Some(lines dropped since the last one let through)` if a line may be written at `now`.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Some(std::mem::take(&mut self.dropped))
        } else {
            self.dropped += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How long a [`LineBudget`] of `per_second` takes to earn one line.
    fn one_line(per_second: f64) -> Duration {
        Duration::from_secs_f64(1.0 / per_second)
    }

    #[test]
    fn a_burst_passes_then_lines_are_dropped_and_counted() {
        let start = Instant::now();
        let mut budget = LineBudget::new(3.0, 2.0, start);
        for _ in 0..3 {
            assert_eq!(budget.admit(start), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(budget.admit(start), None);
        }
        let later = start + one_line(2.0);
        assert_eq!(
            budget.admit(later),
            Some(5),
            "the next line reports the drops"
        );
        assert_eq!(budget.admit(later), None);
        assert_eq!(budget.admit(later + one_line(2.0)), Some(1));
    }

    #[test]
    fn a_long_quiet_spell_refills_only_the_burst() {
        let start = Instant::now();
        let mut budget = LineBudget::new(2.0, 2.0, start);
        let later = start + Duration::from_secs(3600);
        assert_eq!(budget.admit(later), Some(0));
        assert_eq!(budget.admit(later), Some(0));
        assert_eq!(budget.admit(later), None);
    }
}
