//! JSON text written straight into a buffer, for the documents rendered on every request
//! (search results).
//!
//! `serde_json` looks at every byte of every string to escape it and writes strings made of
//! parts (a URL, a version) through `fmt`, fragment by fragment: for a page of search results
//! that cost more than the search. Here a string is checked for a character to escape in one
//! pass the compiler vectorizes, and copied whole when it has none (nearly always: URLs, ids
//! and versions never do). The output is what `serde_json` writes for the same values.

use std::fmt::Write;

/// Writes one JSON document: values in order, with the commas between them.
#[derive(Debug)]
pub struct JsonWriter {
    out: String,
    /// A value was just written at the current level: the next one needs a comma.
    comma: bool,
}

impl JsonWriter {
    pub fn with_capacity(capacity: usize) -> JsonWriter {
        JsonWriter {
            out: String::with_capacity(capacity),
            comma: false,
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.out.into_bytes()
    }

    pub fn begin_object(&mut self) {
        self.open('{');
    }

    pub fn end_object(&mut self) {
        self.close('}');
    }

    pub fn begin_array(&mut self) {
        self.open('[');
    }

    pub fn end_array(&mut self) {
        self.close(']');
    }

    /// An object member's name; its value comes next.
    pub fn key(&mut self, name: &str) {
        self.string(name);
        self.out.push(':');
        self.comma = false;
    }

    pub fn string(&mut self, s: &str) {
        self.separate();
        if needs_escape(s) {
            // Rare (a description with quotes or tabs): serde_json's escaping.
            self.out
                .push_str(&serde_json::to_string(s).unwrap_or_default());
        } else {
            self.out.push('"');
            self.out.push_str(s);
            self.out.push('"');
        }
        self.comma = true;
    }

    /// An array of strings.
    pub fn strings(&mut self, items: &[String]) {
        self.begin_array();
        for s in items {
            self.string(s);
        }
        self.end_array();
    }

    pub fn number(&mut self, n: u64) {
        self.separate();
        let _ = write!(self.out, "{n}");
        self.comma = true;
    }

    pub fn bool(&mut self, b: bool) {
        self.separate();
        self.out.push_str(if b { "true" } else { "false" });
        self.comma = true;
    }

    /// Any other value, through `serde_json` (for rare parts, like a deprecation).
    pub fn value(&mut self, v: &serde_json::Value) {
        self.separate();
        self.out.push_str(&v.to_string());
        self.comma = true;
    }

    fn open(&mut self, bracket: char) {
        self.separate();
        self.out.push(bracket);
        self.comma = false;
    }

    fn close(&mut self, bracket: char) {
        self.out.push(bracket);
        self.comma = true;
    }

    fn separate(&mut self) {
        if self.comma {
            self.out.push(',');
        }
    }
}

/// Whether `s` has a character JSON strings escape: a quote, a backslash or a control
/// character. Without an early exit, so that the loop is vectorized.
fn needs_escape(s: &str) -> bool {
    s.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_what_serde_json_writes() {
        let tricky = "say \"hi\"\\ \n\t\u{1}\u{7f} é ✓ </script>";
        let mut w = JsonWriter::with_capacity(0);
        w.begin_object();
        w.key("data");
        w.begin_array();
        w.begin_object();
        w.key("@id");
        w.string("https://example.com/a b/");
        w.key("tags");
        w.strings(&["x".into(), tricky.into()]);
        w.key("empty");
        w.strings(&[]);
        w.key("n");
        w.number(u64::MAX);
        w.key("ok");
        w.bool(false);
        w.key("deprecation");
        w.value(&json!({"reasons": ["Legacy"]}));
        w.end_object();
        w.begin_object();
        w.end_object();
        w.end_array();
        w.key(tricky);
        w.bool(true);
        w.end_object();
        let expected = json!({
            "data": [
                {
                    "@id": "https://example.com/a b/",
                    "tags": ["x", tricky],
                    "empty": [],
                    "n": u64::MAX,
                    "ok": false,
                    "deprecation": {"reasons": ["Legacy"]},
                },
                {},
            ],
            tricky: true,
        });
        // serde_json keeps members in name order; the writer in the order written.
        let written: serde_json::Value = serde_json::from_slice(&w.into_bytes()).unwrap();
        assert_eq!(written, expected);
    }

    #[test]
    fn strings_are_escaped_exactly_like_serde_json() {
        for s in ["plain", "", "q\"", "b\\", "nl\n", "\u{0}\u{1f}", "\u{7f}é✓"] {
            let mut w = JsonWriter::with_capacity(0);
            w.string(s);
            assert_eq!(w.into_bytes(), serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}
