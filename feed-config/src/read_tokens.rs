//! The line format of secrets: one key or token per line, either plain text or
//! `sha256:<hex>`; blank lines and lines starting with `#` are ignored. It is the whole format
//! of the read-token file ([`ReadTokensFile`]) and the plain form of the API key file.

use crate::error::{Error, Result};
use crate::key_hash::KeyHash;

/// The feed server's `read_tokens_file`: when it is set, every read needs HTTP Basic
/// authentication with one of these tokens as the password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadTokensFile {
    pub tokens: Vec<ReadToken>,
}

/// One read token of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadToken {
    /// Written as a comment above the token's line, for whoever reads the file; comments are
    /// not read back, so parsed tokens have none.
    pub name: Option<String>,
    pub hash: KeyHash,
}

impl ReadTokensFile {
    /// Parses the file's text. A file without a token is refused: it would lock every reader
    /// out, which is never what setting `read_tokens_file` means.
    pub fn parse(text: &str) -> Result<ReadTokensFile> {
        let tokens: Vec<ReadToken> = parse_lines(text)?
            .into_iter()
            .map(|hash| ReadToken { name: None, hash })
            .collect();
        if tokens.is_empty() {
            return Err(Error::NoToken);
        }
        Ok(ReadTokensFile { tokens })
    }

    /// The file's text: per token its name as a comment, then `sha256:<hex>`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            // Every line of a name is a comment, so no name can add a token.
            for line in token.name.iter().flat_map(|name| name.lines()) {
                out.push_str(&format!("# {line}\n"));
            }
            out.push_str(&format!("sha256:{}\n", token.hash.to_hex()));
        }
        out
    }
}

/// The hashes of the secrets in `text`, in order. Errors name the line, never its secret.
pub(crate) fn parse_lines(text: &str) -> Result<Vec<KeyHash>> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(number, line)| {
            match line.strip_prefix("sha256:") {
                Some(hex_digits) => KeyHash::from_hex(hex_digits),
                None => KeyHash::of_written(line),
            }
            .map_err(|source| Error::Line {
                line: number,
                source: Box::new(source),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_plain_or_hashed_and_comments_are_skipped() {
        let hashed = KeyHash::of("second-token").to_hex();
        let file = ReadTokensFile::parse(&format!("# team\n\nfirst-token\n  sha256:{hashed}  \n"))
            .unwrap();
        let hashes: Vec<KeyHash> = file.tokens.iter().map(|t| t.hash).collect();
        assert_eq!(
            hashes,
            vec![KeyHash::of("first-token"), KeyHash::of("second-token")]
        );
    }

    #[test]
    fn written_files_read_back_the_same_hashes() {
        let file = ReadTokensFile {
            tokens: vec![
                ReadToken {
                    name: Some("devs".into()),
                    hash: KeyHash::of("secret"),
                },
                ReadToken {
                    name: Some("two\nlines".into()),
                    hash: KeyHash::of("other"),
                },
            ],
        };
        let text = file.to_text();
        assert_eq!(
            text.lines().next(),
            Some("# devs"),
            "the name comes first, as a comment"
        );
        assert!(text.contains(
            "\nsha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\n"
        ));
        assert!(!text.contains("secret"));
        let back = ReadTokensFile::parse(&text).unwrap();
        assert_eq!(back.tokens.len(), 2);
        assert_eq!(back.tokens[0].hash, KeyHash::of("secret"));
        assert_eq!(back.tokens[1].hash, KeyHash::of("other"));
    }

    #[test]
    fn bad_lines_are_refused_naming_the_line_not_the_secret() {
        let err = ReadTokensFile::parse("# c\ngood-token-1\nshort\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: a key or token must be at least 8 characters"
        );
        let err = ReadTokensFile::parse("sha256:abc\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: a sha256 hash must be 64 hex digits"
        );
        assert!(matches!(
            ReadTokensFile::parse("# only a comment\n"),
            Err(Error::NoToken)
        ));
    }
}
