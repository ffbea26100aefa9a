//! Which trust policy a verified token satisfies: its audience, its age and every claim
//! pattern. A token that satisfies none is refused with what each candidate policy missed (the
//! claim name and the pattern expected, never the token or a claim's value).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::Refusal;
use super::token::{SKEW_SECONDS, shorten};
use crate::config::TrustedPublisher;

/// What a token is, once a policy accepts it.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub policy: Arc<TrustedPublisher>,
    /// The token's `sub` (empty when it has none).
    pub subject: String,
    /// Unix seconds: the token's `exp`.
    pub expires: i64,
    /// Unix seconds: the latest moment the token could still be accepted (its `exp`, or its
    /// `iat` plus the policy's maximum age, whichever is first).
    pub usable_until: i64,
    /// The token's `jti`, if it has one.
    pub jti: Option<String>,
}

/// Why one policy refused a token.
enum Miss {
    /// Not meant for this feed, or too old: the token is no good here at all (401).
    Token(String),
    /// A good token that this policy does not trust (403).
    Claims(String),
}

/// The first of `policies` (all of the token's issuer) that accepts `claims`, at `now` (unix
/// seconds); `default_audience` stands for a policy without `audience`.
pub fn choose(
    policies: &[Arc<TrustedPublisher>],
    claims: &Map<String, Value>,
    default_audience: &str,
    now: i64,
) -> Result<Accepted, Refusal> {
    let skew = SKEW_SECONDS as i64;
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| Refusal::Invalid("the token has no `iat` (issued at) claim".into()))?;
    if iat > now + skew {
        return Err(Refusal::Invalid(
            "the token was issued in the future (`iat`); check the issuer's clock".into(),
        ));
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(iat);
    let mut misses = Vec::new();
    for policy in policies {
        match check(policy, claims, default_audience, iat, now) {
            Ok(()) => {
                let max_age = i64::try_from(policy.max_token_age_seconds).unwrap_or(i64::MAX);
                return Ok(Accepted {
                    policy: policy.clone(),
                    subject: claims
                        .get("sub")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    expires: exp,
                    usable_until: exp.min(iat.saturating_add(max_age)) + skew,
                    jti: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
                });
            }
            Err(miss) => misses.push((policy.name.as_str(), miss)),
        }
    }
    let says = |(name, why): &(&str, String)| format!("trusted publisher `{name}`: {why}");
    let (token, claim): (Vec<_>, Vec<_>) = misses
        .into_iter()
        .map(|(name, miss)| match miss {
            Miss::Token(why) => (Some((name, why)), None),
            Miss::Claims(why) => (None, Some((name, why))),
        })
        .unzip();
    let claim: Vec<String> = claim.iter().flatten().map(says).collect();
    if claim.is_empty() {
        let token: Vec<String> = token.iter().flatten().map(says).collect();
        return Err(Refusal::Invalid(token.join("; ")));
    }
    Err(Refusal::NotTrusted(format!(
        "no trusted publisher accepts this token: {}",
        claim.join("; ")
    )))
}

fn check(
    policy: &TrustedPublisher,
    claims: &Map<String, Value>,
    default_audience: &str,
    iat: i64,
    now: i64,
) -> Result<(), Miss> {
    let audience = policy.audience.as_deref().unwrap_or(default_audience);
    let has_audience = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !has_audience {
        return Err(Miss::Token(format!(
            "the token's audience (`aud`) does not include `{audience}`; request the token for that audience"
        )));
    }
    let age = now - iat;
    if age > i64::try_from(policy.max_token_age_seconds).unwrap_or(i64::MAX) {
        return Err(Miss::Token(format!(
            "the token was issued {age} s ago (`iat`), more than the {} s allowed; request a new token",
            policy.max_token_age_seconds
        )));
    }
    for (name, pattern) in &policy.claims {
        let value = match claims.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            // Numbers and booleans by their JSON text (`repository_id: 123`, `ref_protected: true`).
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
            _ => None,
        };
        match value {
            None => {
                return Err(Miss::Claims(format!(
                    "claim `{}` is missing (or not a string, number or boolean); it must match `{}`",
                    shorten(name),
                    pattern.as_str()
                )));
            }
            Some(v) if !pattern.matches(&v) => {
                return Err(Miss::Claims(format!(
                    "claim `{}` does not match `{}`",
                    shorten(name),
                    pattern.as_str()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> Arc<TrustedPublisher> {
        Arc::new(serde_yaml_ng::from_str(yaml).unwrap())
    }

    fn claims(value: Value) -> Map<String, Value> {
        serde_json::from_value(value).unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn every_claim_the_audience_and_the_age_must_hold() {
        let p = policy(
            "name: rel\nissuer: https://i\nclaims: {repository: 'contoso/*', run_attempt: '1', ref_protected: 'true'}\nmax_token_age_seconds: 600\n",
        );
        let good = serde_json::json!({"aud": ["x", "https://feed"], "iat": NOW - 10, "exp": NOW + 300,
            "sub": "repo:contoso/lib", "repository": "contoso/lib", "run_attempt": 1, "ref_protected": true, "jti": "j"});
        let ok = choose(
            std::slice::from_ref(&p),
            &claims(good.clone()),
            "https://feed",
            NOW,
        )
        .unwrap();
        assert_eq!(ok.policy.name, "rel");
        assert_eq!(ok.subject, "repo:contoso/lib");
        assert_eq!(ok.usable_until, NOW + 300 + 60);
        assert_eq!(ok.jti.as_deref(), Some("j"));

        let refused = |edit: &dyn Fn(&mut Value)| {
            let mut c = good.clone();
            edit(&mut c);
            match choose(std::slice::from_ref(&p), &claims(c), "https://feed", NOW) {
                Ok(_) => panic!("accepted"),
                Err(Refusal::Invalid(m)) => (401, m),
                Err(Refusal::NotTrusted(m)) => (403, m),
                Err(other) => panic!("{other:?}"),
            }
        };
        let (status, m) = refused(&|c| c["repository"] = "evil/lib".into());
        assert_eq!(status, 403);
        assert!(
            m.contains("`rel`") && m.contains("claim `repository` does not match `contoso/*`"),
            "{m}"
        );
        assert!(!m.contains("evil"), "the claim's value is not echoed: {m}");
        let (status, m) = refused(&|c| {
            c.as_object_mut().unwrap().remove("run_attempt");
        });
        assert_eq!(status, 403);
        assert!(m.contains("claim `run_attempt` is missing"), "{m}");
        let (status, m) = refused(&|c| c["aud"] = "https://other".into());
        assert_eq!(status, 401);
        assert!(m.contains("does not include `https://feed`"), "{m}");
        let (status, m) = refused(&|c| c["iat"] = (NOW - 601).into());
        assert_eq!(status, 401);
        assert!(m.contains("more than the 600 s"), "{m}");
        let (status, m) = refused(&|c| c["iat"] = (NOW + 61).into());
        assert_eq!(status, 401);
        assert!(m.contains("future"), "{m}");
    }

    #[test]
    fn the_first_policy_that_accepts_wins_and_a_policy_audience_replaces_the_default() {
        let a = policy("name: a\nissuer: https://i\nclaims: {sub: 'x'}\n");
        let b = policy("name: b\nissuer: https://i\naudience: custom\nclaims: {sub: 'y*'}\n");
        let c =
            claims(serde_json::json!({"aud": "custom", "iat": NOW, "exp": NOW + 60, "sub": "yes"}));
        let ok = choose(&[a, b], &c, "https://feed", NOW).unwrap();
        assert_eq!(ok.policy.name, "b");
    }
}
