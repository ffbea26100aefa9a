//! HTTP: the axum router mounted under the feed's path base, auth, limits, errors, metrics.

pub mod audit;
pub mod base_url;
pub mod cache;
pub mod change;
pub mod conn;
pub mod drain;
pub mod error;
pub mod fast_path;
mod forwarded;
pub mod handlers;
mod limits;
pub mod metrics;
pub mod response;
pub mod state;
mod unrouted;
pub mod upload;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine;
use tower_http::trace::TraceLayer;

use crate::api::urls::Hive;
use crate::auth::ReadTokens;
use error::ApiError;
use handlers::{
    catalog, deprecation, flat_container, health, odata, publish, registration, search,
    service_index, symbols, token, vulnerabilities,
};
pub use state::{App, AppState};
use unrouted::Unrouted;

impl AppState {
    /// Response options for a document of this feed.
    pub fn doc_options(&self, always_gzip: bool) -> response::DocOptions {
        response::DocOptions {
            always_gzip,
            private: self.read_tokens.is_some(),
            reuse: false,
            odata: false,
        }
    }
}

/// The whole server: the feed under its path base, health and metrics at the root.
pub fn router(state: AppState) -> Router {
    // One audit trail (and one refusal line budget) for every write, routed or not.
    let audit = audit::Audit::new(state.clone());
    let feed = feed_routes(&state, &audit);
    let path_base = state.config.path_base.clone();
    let root = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    let app = if path_base.is_empty() {
        root.merge(feed)
    } else {
        // The nested router has `{base}` (it redirects here) but not `{base}/`.
        let page = Router::new().route(&format!("{path_base}/"), crate::web::feed_page());
        root.nest(&path_base, feed)
            .merge(read_protected(&state, page))
    };
    let refuse = |why: Unrouted| {
        let audit = audit.clone();
        move |request: Request| {
            let audit = audit.clone();
            async move { why.refuse(&audit, &request) }
        }
    };
    // After every route is in: the 405 fallback is set on the routes there are.
    let app = app
        .fallback(refuse(Unrouted::NotFound))
        .method_not_allowed_fallback(refuse(Unrouted::MethodNotAllowed));
    app.layer(middleware::from_fn_with_state(
        state.metrics.clone(),
        metrics::track,
    ))
    .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let route = || req.extensions().get::<MatchedPath>().map(|p| p.as_str());
        // Reads are nearly all the traffic and log nothing when they succeed: their span is
        // at DEBUG, so at the default level it costs nothing on the hottest path. Writes keep
        // an INFO span for the lines they log. (Field values are only evaluated for an
        // enabled span.)
        if matches!(*req.method(), Method::GET | Method::HEAD) {
            tracing::debug_span!("request", http.method = %req.method(), http.route = route())
        } else {
            tracing::info_span!("request", http.method = %req.method(), http.route = route())
        }
    }))
    .with_state(state)
}

fn feed_routes(state: &AppState, audit: &audit::Audit) -> Router<AppState> {
    // Every write, done or refused, passes the audit trail; `route_layer` keeps unmatched
    // paths out of it (`unrouted` logs those).
    let audit = middleware::from_fn_with_state(audit.clone(), audit::record);
    let uploads = Router::new()
        .route("/package", put(publish::push))
        .route("/package/", put(publish::push))
        // V2 push (NuGet 2.x, Chocolatey, PowerShellGet): the same multipart body.
        .route("/api/v2/package", put(publish::push))
        .route("/api/v2/package/", put(publish::push))
        .route("/symbolpackage", put(symbols::push))
        .route("/symbolpackage/", put(symbols::push))
        .route_layer(audit.clone())
        .layer(DefaultBodyLimit::disable());
    let mut reads = Router::new()
        .route("/index.json", get(service_index::get))
        .route(
            "/flatcontainer/{id}/index.json",
            get(flat_container::versions),
        )
        .route(
            "/flatcontainer/{id}/{version}/{file}",
            get(flat_container::file),
        )
        .route("/query", get(search::query))
        .route("/autocomplete", get(search::autocomplete))
        .route("/symbols/{file}/{key}/{file2}", get(symbols::download))
        .route("/catalog/index.json", get(catalog::index))
        .route("/catalog/{page}", get(catalog::page))
        .route("/catalog/data/{seq}/{name}", get(catalog::leaf))
        .route("/vulnerabilities/index.json", get(vulnerabilities::index))
        .route("/vulnerabilities/{page}", get(vulnerabilities::page))
        .route(
            "/vulnerabilities/upstream/{upstream}/{page}",
            get(vulnerabilities::upstream_page),
        )
        .route("/api/v2", get(odata::service_document))
        .route("/api/v2/", get(odata::service_document))
        .route("/api/v2/{resource}", get(odata::resource))
        .route("/api/v2/{resource}/$count", get(odata::count))
        .route("/api/v2/package/{id}/{version}", get(odata::download))
        // The web pages (issue 15): reads like the rest, behind the same read protection.
        .merge(crate::web::routes())
        .route(
            "/",
            if state.config.path_base.is_empty() {
                crate::web::feed_page()
            } else {
                get(crate::web::to_feed_page)
            },
        );
    for hive in Hive::ALL {
        let seg = hive.segment();
        reads = reads
            .route(
                &format!("/{seg}/{{id}}/index.json"),
                get(move |s, u, p, h| registration::index(hive, s, u, p, h)),
            )
            .route(
                &format!("/{seg}/{{id}}/page/{{lower}}/{{upper}}"),
                get(move |s, u, p, h| registration::page(hive, s, u, p, h)),
            )
            .route(
                &format!("/{seg}/{{id}}/{{leaf}}"),
                get(move |s, u, p, h| registration::leaf(hive, s, u, p, h)),
            );
    }
    let mut writes = Router::new()
        .route(
            "/package/{id}/{version}",
            axum::routing::delete(publish::delete).post(publish::relist),
        )
        .route(
            "/api/v2/package/{id}/{version}",
            axum::routing::delete(publish::delete),
        )
        .route(
            "/package/{id}/{version}/deprecation",
            put(deprecation::put).delete(deprecation::delete),
        );
    // It changes no package and logs the keys it issues itself; its refusals are audited
    // like those of writes.
    if !state.trust.is_empty() {
        writes = writes.route("/token", axum::routing::post(token::exchange));
    }
    let writes = writes.route_layer(audit);
    let reads = read_protected(state, reads);
    uploads.merge(
        reads
            .merge(writes)
            .layer(DefaultBodyLimit::max(limits::SMALL_BODY_LIMIT)),
    )
}

/// `routes` behind [`require_read_token`] when the feed has read tokens. A public feed's reads
/// skip the middleware altogether: it is on the hottest path.
fn read_protected(state: &AppState, routes: Router<AppState>) -> Router<AppState> {
    if state.read_tokens.is_some() {
        routes.layer(middleware::from_fn_with_state(
            state.clone(),
            require_read_token,
        ))
    } else {
        routes
    }
}

/// The refusal of a read without an `Authorization` header.
const MISSING: &str = "this feed needs credentials and none were sent: use HTTP Basic with one of \
                       its read tokens as the password (any user name)";

/// The refusal of credentials that were sent but are not a read token (any wrong password, any
/// malformed or non-Basic `Authorization`: one text for all, so it tells nothing about tokens).
const NOT_VALID: &str = "the credentials sent are not valid for this feed: use HTTP Basic with one \
                         of its read tokens as the password (any user name)";

/// With read tokens configured, every read needs HTTP Basic with a token as the password
/// (G-7, SI-6): 401 with `WWW-Authenticate: Basic` otherwise, so clients prompt or use their
/// configured credentials. Writes are authenticated by their API key instead.
async fn require_read_token(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let Some(tokens) = &s.read_tokens else {
        return next.run(request).await;
    };
    if matches!(*request.method(), Method::GET | Method::HEAD)
        && let Some(message) = read_refusal(tokens, request.headers())
    {
        return ApiError::Unauthorized {
            basic: true,
            message: message.into(),
        }
        .into_response();
    }
    next.run(request).await
}

/// Why a read with these headers is refused on a feed with these read tokens, or `None` when
/// its credentials hold one of them (compared in constant time).
pub(crate) fn read_refusal(tokens: &ReadTokens, headers: &HeaderMap) -> Option<&'static str> {
    let authorization = headers.get(header::AUTHORIZATION);
    // Say which of the two it was, so a user knows whether to configure credentials or fix
    // them; the answer is the same for every wrong token or malformed header, so it reveals
    // nothing else.
    match authorization.map(|v| v.to_str().ok().and_then(basic_password)) {
        None => Some(MISSING),
        Some(None) => Some(NOT_VALID),
        Some(Some(p)) if !tokens.verify(&p) => Some(NOT_VALID),
        Some(Some(_)) => None,
    }
}

/// The password of an HTTP Basic `Authorization` header.
fn basic_password(value: &str) -> Option<String> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned())
}
