//! A presented OIDC token before and after its signature is checked: [`Unverified`] reads the
//! header and the issuer only to choose the keys, and [`check_signature`] proves the token with
//! them (algorithm allow-list, `exp` and `nbf` with a clock skew). Neither keeps the token, so
//! nothing here can print it.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde_json::{Map, Value};

use super::Refusal;

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const SKEW_SECONDS: u64 = 60;

/// Signatures accepted: asymmetric only. Never `none`, never HMAC (an HS256 token "signed" with
/// an issuer's public key would otherwise verify).
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Whether `text` has the shape of a JWT (three base64url parts, a JSON header first): how a
/// token sent as an API key is told from a key.
pub fn looks_like_jwt(text: &str) -> bool {
    let mut parts = text.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    // `{"` in base64url: every JSON header starts so.
    header.starts_with("eyJ")
        && !payload.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// What a token says about itself before it is proven: enough to pick the keys.
pub struct Unverified {
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub issuer: String,
}

impl Unverified {
    pub fn read(token: &str) -> Result<Unverified, Refusal> {
        let not_jwt = || {
            Refusal::Invalid(
                "the token is not a JWT (three base64url parts: header.payload.signature)".into(),
            )
        };
        if !looks_like_jwt(token) {
            return Err(not_jwt());
        }
        let mut parts = token.split('.');
        let header = parts.next().and_then(json_part).ok_or_else(not_jwt)?;
        let payload = parts.next().and_then(json_part).ok_or_else(not_jwt)?;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let alg = Algorithm::from_str(alg_name)
            .ok()
            .filter(|a| ALLOWED.contains(a))
            .ok_or_else(|| {
                Refusal::Invalid(format!(
                    "the token's algorithm `{}` is not accepted: only asymmetric signatures (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)",
                    shorten(alg_name)
                ))
            })?;
        let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
        let issuer = payload
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::Invalid("the token has no `iss` (issuer) claim".into()))?
            .to_owned();
        Ok(Unverified { alg, kid, issuer })
    }
}

fn json_part(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A claim or header value as a message may quote it: at most 100 characters.
pub fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

/// The token's claims, once its signature verifies with `key` and `exp`/`nbf` hold (with
/// [`SKEW_SECONDS`]); `issuer` must be its `iss`.
pub fn check_signature(
    token: &str,
    alg: Algorithm,
    key: &Jwk,
    issuer: &str,
) -> Result<Map<String, Value>, Refusal> {
    let decoding = DecodingKey::from_jwk(key).map_err(|e| {
        Refusal::Unavailable(format!(
            "a key of issuer `{issuer}` cannot be used ({e}); the issuer's JWK Set is broken"
        ))
    })?;
    let mut validation = Validation::new(alg);
    validation.leeway = SKEW_SECONDS;
    validation.validate_nbf = true;
    // The audience is checked by the caller, against each policy, with a clearer message.
    validation.validate_aud = false;
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &validation)
        .map_err(|e| {
            Refusal::Invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired (`exp` is past)".into(),
                ErrorKind::ImmatureSignature => "the token is not valid yet (`nbf`)".into(),
                ErrorKind::InvalidSignature => format!(
                    "the token's signature does not verify with the key of issuer `{issuer}` it names"
                ),
                ErrorKind::MissingRequiredClaim(claim) => {
                    format!("the token has no `{claim}` claim")
                }
                ErrorKind::InvalidAlgorithm => {
                    "the token's algorithm does not fit the issuer's key".into()
                }
                other => format!("the token cannot be verified: {other:?}"),
            })
        })?;
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn token(header: Value, payload: Value) -> String {
        format!("{}.{}.c2ln", b64(&header), b64(&payload))
    }

    #[test]
    fn jwts_are_told_from_api_keys_by_shape() {
        let jwt = token(serde_json::json!({"alg": "RS256"}), serde_json::json!({}));
        assert!(looks_like_jwt(&jwt));
        assert!(!looks_like_jwt("local-dev-key-change-me"));
        assert!(!looks_like_jwt("nftk_1_abc"));
        assert!(!looks_like_jwt("eyJ.a"));
        assert!(!looks_like_jwt(&format!("{jwt}.more")));
    }

    #[test]
    fn none_and_hmac_are_refused_before_any_key_is_looked_up() {
        for alg in ["none", "HS256", "HS512", "", "RS1"] {
            let t = token(
                serde_json::json!({"alg": alg, "kid": "k"}),
                serde_json::json!({"iss": "https://i"}),
            );
            let Err(Refusal::Invalid(message)) = Unverified::read(&t) else {
                panic!("{alg} accepted");
            };
            assert!(message.contains("only asymmetric"), "{message}");
        }
        let t = token(
            serde_json::json!({"alg": "ES256", "kid": "k"}),
            serde_json::json!({"iss": "https://i"}),
        );
        let read = Unverified::read(&t).unwrap();
        assert_eq!(
            (read.alg, read.kid.as_deref(), read.issuer.as_str()),
            (Algorithm::ES256, Some("k"), "https://i")
        );
    }
}
