//! The parts of proxy headers that build URLs: the RFC 7239 `Forwarded` header's first element,
//! and a `host[:port]` authority (from `Forwarded`'s `host=`, `X-Forwarded-Host` or `Host`).
//!
//! Parsing only: which header wins is `base_url`'s decision.

/// What the proxy nearest the client saw, from the first element of `Forwarded`.
#[derive(Debug, Default, PartialEq)]
pub struct Forwarded {
    /// `proto=`, lowercased, when it is `http` or `https`.
    pub proto: Option<&'static str>,
    /// `host=`, when it is a valid authority.
    pub host: Option<Authority>,
}

/// The first element of a `Forwarded` value (`for=a;proto=https;host=x, for=b`). A first
/// element that does not parse makes the whole header ignored (`None`), and a `proto` or
/// `host` that is not usable is left out: a proxy's garbage never fails a request.
pub fn first_element(value: &str) -> Option<Forwarded> {
    let mut out = Forwarded::default();
    let mut seen = Vec::new();
    let mut rest = value.trim_start();
    loop {
        let (name, after) = rest.split_once('=')?;
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(is_tchar) || seen.contains(&name) {
            // RFC 7239 §4: a parameter appears at most once per element.
            return None;
        }
        let (text, after) = match after.strip_prefix('"') {
            Some(quoted) => quoted_string(quoted)?,
            None => {
                let end = after.find([';', ',']).unwrap_or(after.len());
                let token = after[..end].trim_end();
                if token.is_empty() || !token.chars().all(is_tchar) {
                    return None;
                }
                (token.to_owned(), &after[end..])
            }
        };
        match name.as_str() {
            "proto" => out.proto = scheme(&text),
            "host" => out.host = Authority::parse(&text).ok(),
            _ => {}
        }
        seen.push(name);
        let after = after.trim_start();
        match after.chars().next() {
            None | Some(',') => return Some(out),
            Some(';') => rest = after[1..].trim_start(),
            Some(_) => return None,
        }
    }
}

/// `http` or `https` in any case, else `None`.
pub fn scheme(text: &str) -> Option<&'static str> {
    if text.eq_ignore_ascii_case("http") {
        Some("http")
    } else if text.eq_ignore_ascii_case("https") {
        Some("https")
    } else {
        None
    }
}

/// A port as proxies send it (`X-Forwarded-Port`, the `:port` of a host): 1 to 65535 in
/// decimal; anything else (signs, spaces, 0, six digits) is `None`.
pub fn port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|p| *p != 0)
}

/// RFC 7230 `tchar`: what a token (unquoted name or value) may contain.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The text of a quoted string whose opening quote is already consumed, and what follows
/// its closing quote; `None` when it never closes.
fn quoted_string(s: &str) -> Option<(String, &str)> {
    let mut text = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((text, &s[i + 1..])),
            '\\' => text.push(chars.next()?.1),
            c => text.push(c),
        }
    }
    None
}

/// A `host[:port]` that can go into a URL as it is: a DNS name or IPv4 address (letters,
/// digits, `-`, `.`), or an IPv6 address in brackets, and an optional valid port.
#[derive(Debug, Clone, PartialEq)]
pub struct Authority {
    pub host: String,
    pub port: Option<u16>,
}

/// Why a host was refused (its text is the caller's to show).
#[derive(Debug, PartialEq)]
pub struct InvalidHost;

impl Authority {
    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`. Nothing else lands in a URL: no
    /// user info, path, quote or space can be smuggled in through a header.
    pub fn parse(text: &str) -> Result<Authority, InvalidHost> {
        let (host, port) = match text.strip_prefix('[') {
            Some(v6) => {
                let (address, rest) = v6.split_once(']').ok_or(InvalidHost)?;
                let ok = address.contains(':')
                    && address
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || ":.".contains(c));
                if !ok {
                    return Err(InvalidHost);
                }
                let port = match rest {
                    "" => None,
                    _ => Some(rest.strip_prefix(':').ok_or(InvalidHost)?),
                };
                (&text[..address.len() + 2], port)
            }
            None => {
                let (name, port) = match text.split_once(':') {
                    Some((name, port)) => (name, Some(port)),
                    None => (text, None),
                };
                let ok = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c));
                if !ok {
                    return Err(InvalidHost);
                }
                (name, port)
            }
        };
        let port = port.map(|p| self::port(p).ok_or(InvalidHost)).transpose()?;
        Ok(Authority {
            host: host.to_owned(),
            port,
        })
    }

    /// This authority in a URL of `scheme`: the scheme's default port is left out.
    pub fn for_scheme(&self, scheme: &str) -> String {
        let default = match scheme {
            "https" => 443,
            _ => 80,
        };
        match self.port {
            Some(port) if port != default => format!("{}:{port}", self.host),
            _ => self.host.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(host: &str, port: Option<u16>) -> Option<Authority> {
        Some(Authority {
            host: host.to_owned(),
            port,
        })
    }

    #[test]
    fn the_first_element_is_read() {
        let f = first_element(
            "for=\"[2001:db8:cafe::17]:4711\";Proto=HTTPS;host=\"nuget.example.com:8083\", for=x;proto=http",
        )
        .unwrap();
        assert_eq!(f.proto, Some("https"));
        assert_eq!(f.host, authority("nuget.example.com", Some(8083)));
        let f = first_element("host=\"[::1]\"").unwrap();
        assert_eq!(f.host, authority("[::1]", None));
        let f = first_element("for=1.2.3.4").unwrap();
        assert_eq!(f, Forwarded::default());
        // Quoted pairs keep their character; commas and semicolons inside quotes do not split.
        let f = first_element("for=\"a,b;c\\\"d\";host=h").unwrap();
        assert_eq!(f.host, authority("h", None));
    }

    #[test]
    fn unusable_values_are_left_out() {
        let f = first_element("proto=gopher;host=\"a/b\"").unwrap();
        assert_eq!(f, Forwarded::default());
        for bad in [
            "",
            "host",
            "host=",
            "host=a;host=b",
            "host=a b",
            "host=\"a",
            "h\u{e9}=a",
        ] {
            assert_eq!(first_element(bad), None, "{bad}");
        }
    }

    #[test]
    fn ports_are_decimal_and_in_range() {
        assert_eq!(port("8083"), Some(8083));
        assert_eq!(port("65535"), Some(65535));
        for bad in [
            "",
            "0",
            "65536",
            "-1",
            "+1",
            " 1",
            "1 ",
            "0x50",
            "000000080",
        ] {
            assert_eq!(port(bad), None, "{bad}");
        }
    }

    #[test]
    fn authorities_hold_only_hosts_and_ports() {
        assert_eq!(
            Authority::parse("Nuget.Example.com:8083"),
            Ok(Authority {
                host: "Nuget.Example.com".into(),
                port: Some(8083)
            })
        );
        assert_eq!(
            Authority::parse("[fe80::1]:80").map(|a| a.for_scheme("http")),
            Ok("[fe80::1]".into())
        );
        for bad in [
            "",
            ":80",
            "a:",
            "a:b:c",
            "[]",
            "[::1]x",
            "[::1]:",
            "[1.2.3.4]",
            "a_b",
            "a\r\nX: y",
            "user@host",
        ] {
            assert_eq!(Authority::parse(bad), Err(InvalidHost), "{bad}");
        }
    }
}
