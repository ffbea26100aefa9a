//! Registration documents of an upstream, made ours: every URL under one of the upstream's
//! registration hives or its flat container is moved under ours, so each `@id`, page,
//! `registration` and `packageContent` URL points at this feed (a client never talks to the
//! upstream). Other URLs (catalog entries, icons, project pages) stay as the upstream sent them.

use serde_json::Value;

/// Replaces, in every string of `doc`, a leading `from` with its `to`, for the first pair that
/// matches; each `from` and `to` is a base URL ending with `/`.
pub fn rebase(doc: &mut Value, pairs: &[(&str, &str)]) {
    match doc {
        Value::String(s) => {
            if let Some((from, to)) = pairs.iter().find(|(from, _)| s.starts_with(from)) {
                *s = format!("{to}{}", &s[from.len()..]);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rebase(v, pairs)),
        Value::Object(fields) => fields.values_mut().for_each(|v| rebase(v, pairs)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn registration_and_package_urls_move_and_the_rest_stays() {
        let mut page = json!({
            "@id": "https://up/reg-gz-semver2/a/page/1.0.0/2.0.0.json",
            "parent": "https://up/reg-gz-semver2/a/index.json",
            "count": 1,
            "items": [{
                "@id": "https://up/reg-gz-semver2/a/1.0.0.json",
                "packageContent": "https://up/flat/a/1.0.0/a.1.0.0.nupkg",
                "registration": "https://up/reg-gz-semver1/a/index.json",
                "catalogEntry": {
                    "@id": "https://up/catalog/data/1.json",
                    "published": "2020-01-01T00:00:00Z",
                    "listed": true,
                    "projectUrl": "https://up/project",
                    "deprecation": {"reasons": ["Legacy"]}
                }
            }]
        });
        rebase(
            &mut page,
            &[
                (
                    "https://up/reg-gz-semver2/",
                    "http://me/registration-gz-semver2/",
                ),
                (
                    "https://up/reg-gz-semver1/",
                    "http://me/registration-gz-semver2/",
                ),
                ("https://up/flat/", "http://me/flatcontainer/"),
            ],
        );
        assert_eq!(
            page,
            json!({
                "@id": "http://me/registration-gz-semver2/a/page/1.0.0/2.0.0.json",
                "parent": "http://me/registration-gz-semver2/a/index.json",
                "count": 1,
                "items": [{
                    "@id": "http://me/registration-gz-semver2/a/1.0.0.json",
                    "packageContent": "http://me/flatcontainer/a/1.0.0/a.1.0.0.nupkg",
                    "registration": "http://me/registration-gz-semver2/a/index.json",
                    "catalogEntry": {
                        "@id": "https://up/catalog/data/1.json",
                        "published": "2020-01-01T00:00:00Z",
                        "listed": true,
                        "projectUrl": "https://up/project",
                        "deprecation": {"reasons": ["Legacy"]}
                    }
                }]
            })
        );
    }
}
