//! TokenService/1.0.0: `POST {base}/token` with `Authorization: Bearer <OIDC token>` trades a
//! trusted publisher's token for a temporary API key, once per token.
//!
//! The body is optional; when sent it is nuget.org's request (`{"username": ..., "token_type":
//! "api_key"}`) or the `NuGet/login` action's (`{"username": ..., "tokenType": "ApiKey"}`). The
//! user name is not needed here (the policy is found from the token's claims) and is ignored.
//! The answer carries the key under both names clients read: `api_key` (nuget.org, the spec)
//! and `apiKey` (the action), with `token_type` and `expires` (ISO 8601).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::http::base_url;
use crate::http::error::{ApiError, ApiResult};
use crate::http::state::AppState;

/// The request body, as nuget.org or the `NuGet/login` action send it.
#[derive(Deserialize)]
struct TokenRequest {
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default, rename = "tokenType")]
    token_type_camel: Option<String>,
}

/// `POST {base}/token`: 200 with a key; 400 for a body asking for another kind of token; 401
/// (`WWW-Authenticate: Bearer`) for a missing or invalid token, or one exchanged already; 403
/// when no policy trusts it; 429 (`Retry-After`) when its subject exchanged too often.
pub async fn exchange(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let token = bearer(&headers)?;
    check_body(&body?)?;
    let audience = base_url::feed_base(&s, &headers)?;
    let (issued, record) = s.trust.exchange(token, &audience).await?;
    let expires = chrono::DateTime::from_timestamp(issued.expires, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    tracing::info!(
        key.name = record.policy.as_str(),
        publisher.subject = record.subject.as_str(),
        expires = %expires,
        "temporary key issued to trusted publisher `{}` (subject `{}`), valid until {expires}",
        record.policy,
        record.subject
    );
    let mut response = Json(serde_json::json!({
        "token_type": "api_key",
        "api_key": issued.key,
        "apiKey": issued.key,
        "expires": expires,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    let usage = "send the OIDC token in the Authorization header: `Authorization: Bearer <token>`";
    if !headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::InvalidToken(format!(
            "no token was sent; {usage}"
        )));
    }
    bearer_token(headers).ok_or_else(|| {
        ApiError::InvalidToken(format!(
            "the Authorization header is not a Bearer token; {usage}"
        ))
    })
}

/// The non-empty token of an `Authorization: Bearer <token>` header, if one was sent.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// An empty body, or one that asks for an API key.
fn check_body(body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let request: TokenRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be empty or JSON such as {{\"username\": \"ci\", \"token_type\": \"api_key\"}}: {e}"
        ))
    })?;
    let asked = [request.token_type, request.token_type_camel];
    match asked
        .iter()
        .flatten()
        .find(|t| !matches!(t.as_str(), "api_key" | "ApiKey"))
    {
        Some(other) => Err(ApiError::BadRequest(format!(
            "token type `{}` is not offered: only `api_key`",
            other.chars().take(40).collect::<String>()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bodies_of_nuget_org_and_the_login_action_are_accepted() {
        for ok in [
            "",
            "{}",
            r#"{"username":"ci","token_type":"api_key"}"#,
            r#"{"username":"ci","tokenType":"ApiKey"}"#,
        ] {
            assert!(check_body(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in ["nope", r#"{"tokenType":"Password"}"#] {
            assert!(check_body(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
