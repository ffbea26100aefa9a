//! `$filter`: the part of OData v2's expression language that NuGet clients send
//! (NuGet.Client, NuGet.Core 2.x, Chocolatey, PowerShellGet), parsed by recursive descent into a
//! typed [`Filter`] and evaluated on a [`Row`].
//!
//! No crate parses OData v2 `$filter` (the crates on crates.io are OData v4 clients or
//! unmaintained), and the subset is small: `and`/`or`/`not`, parentheses, the comparisons,
//! string and boolean literals, the string functions clients use around `Id`, and the
//! properties the feed keeps in memory for every version. Filtering on a property that lives in
//! storage (a title, tags) would read every version's metadata: it is refused with a pointer to
//! `Search()`. Every error names what is wrong and where; input and nesting are bounded, so a
//! hostile filter costs a 400, never a deep recursion or a scan beyond the feed's own rows.

use std::cmp::Ordering;

use super::Error;
use super::rows::Row;

/// Longest `$filter` accepted: clients send well under 1 KiB (GetUpdates-style id lists go in
/// function parameters, not here).
const MAX_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and function calls.
const MAX_DEPTH: usize = 32;

/// A `$filter` that cannot be evaluated; the message says what and, where known, the fix.
fn invalid(message: String) -> Error {
    Error::new(format!("`$filter` is invalid: {message}"))
}

/// A parsed, type-checked `$filter` (its root has type boolean).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Expr);

/// The properties a filter may name: those the feed keeps in memory for every version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    Id,
    Version,
    NormalizedVersion,
    IsLatestVersion,
    IsAbsoluteLatestVersion,
    IsPrerelease,
    Listed,
}

impl Property {
    const ALL: [(&'static str, Property); 7] = [
        ("Id", Property::Id),
        ("Version", Property::Version),
        ("NormalizedVersion", Property::NormalizedVersion),
        ("IsLatestVersion", Property::IsLatestVersion),
        ("IsAbsoluteLatestVersion", Property::IsAbsoluteLatestVersion),
        ("IsPrerelease", Property::IsPrerelease),
        ("Listed", Property::Listed),
    ];

    fn ty(self) -> Type {
        match self {
            Property::Id | Property::Version | Property::NormalizedVersion => Type::Str,
            _ => Type::Bool,
        }
    }
}

/// Functions of OData v2 that clients apply to `Id` and search terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    ToLower,
    ToUpper,
    Trim,
    Length,
    SubstringOf,
    StartsWith,
    EndsWith,
    IndexOf,
}

impl Function {
    const ALL: [(&'static str, Function); 8] = [
        ("tolower", Function::ToLower),
        ("toupper", Function::ToUpper),
        ("trim", Function::Trim),
        ("length", Function::Length),
        ("substringof", Function::SubstringOf),
        ("startswith", Function::StartsWith),
        ("endswith", Function::EndsWith),
        ("indexof", Function::IndexOf),
    ];

    /// Argument types and result type.
    fn signature(self) -> (&'static [Type], Type) {
        match self {
            Function::ToLower | Function::ToUpper | Function::Trim => (&[Type::Str], Type::Str),
            Function::Length => (&[Type::Str], Type::Int),
            Function::SubstringOf | Function::StartsWith | Function::EndsWith => {
                (&[Type::Str, Type::Str], Type::Bool)
            }
            Function::IndexOf => (&[Type::Str, Type::Str], Type::Int),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Bool,
    Str,
    Int,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Bool => "a boolean",
            Type::Str => "a string",
            Type::Int => "a number",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    And,
    Or,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Bool(bool),
    Str(String),
    Int(i64),
    Property(Property),
    Call(Function, Vec<Expr>),
    Not(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Bool(bool),
    Str(String),
    Int(i64),
}

impl Filter {
    /// Parses and type-checks a `$filter`.
    pub fn parse(text: &str) -> Result<Filter, Error> {
        if text.len() > MAX_LEN {
            return Err(invalid(format!(
                "it is {} characters long; the limit is {MAX_LEN}",
                text.len()
            )));
        }
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            depth: 0,
        };
        let expr = parser.or()?;
        if let Some((pos, token)) = parser.tokens.get(parser.at) {
            return Err(invalid(format!(
                "unexpected {} at position {pos}: join conditions with `and` or `or`",
                token.describe()
            )));
        }
        let ty = type_of(&expr)?;
        if ty != Type::Bool {
            return Err(invalid(format!(
                "it is {}, not a condition: compare it, e.g. `Id eq 'Contoso.Lib'`",
                ty.name()
            )));
        }
        Ok(Filter(expr))
    }

    /// Whether `row` passes.
    pub fn admits(&self, row: &Row<'_>) -> bool {
        matches!(eval(&self.0, row), Value::Bool(true))
    }

    /// The lower-cased id every admitted row must have, when the filter says so at its top
    /// level (`Id eq 'X'`, `tolower(Id) eq 'x' and ...`): lets a query look one id up instead
    /// of going through every package.
    pub fn required_id(&self) -> Option<String> {
        required_id(&self.0)
    }
}

fn required_id(e: &Expr) -> Option<String> {
    match e {
        Expr::Binary(Op::And, a, b) => required_id(a).or_else(|| required_id(b)),
        Expr::Binary(Op::Eq, a, b) => match (&**a, &**b) {
            (lhs, Expr::Str(s)) | (Expr::Str(s), lhs) if is_id(lhs) => Some(s.to_lowercase()),
            _ => None,
        },
        _ => None,
    }
}

/// `Id`, or `Id` through case and whitespace functions (ids compare case-insensitively).
fn is_id(e: &Expr) -> bool {
    match e {
        Expr::Property(Property::Id) => true,
        Expr::Call(Function::ToLower | Function::ToUpper | Function::Trim, args) => {
            args.first().is_some_and(is_id)
        }
        _ => false,
    }
}

fn type_of(e: &Expr) -> Result<Type, Error> {
    Ok(match e {
        Expr::Bool(_) => Type::Bool,
        Expr::Str(_) => Type::Str,
        Expr::Int(_) => Type::Int,
        Expr::Property(p) => p.ty(),
        Expr::Call(f, args) => {
            let (params, result) = f.signature();
            for (arg, want) in args.iter().zip(params) {
                let got = type_of(arg)?;
                if got != *want {
                    return Err(invalid(format!(
                        "an argument of {f:?} is {} where {} is needed",
                        got.name(),
                        want.name()
                    )));
                }
            }
            result
        }
        Expr::Not(inner) => {
            if type_of(inner)? != Type::Bool {
                return Err(invalid("`not` needs a condition".into()));
            }
            Type::Bool
        }
        Expr::Binary(op, a, b) => {
            let (ta, tb) = (type_of(a)?, type_of(b)?);
            match op {
                Op::And | Op::Or if ta != Type::Bool || tb != Type::Bool => {
                    return Err(invalid(format!(
                        "`{}` joins conditions, not {} and {}",
                        op_name(*op),
                        ta.name(),
                        tb.name()
                    )));
                }
                _ if ta != tb => {
                    return Err(invalid(format!(
                        "`{}` compares {} with {}: compare values of one type",
                        op_name(*op),
                        ta.name(),
                        tb.name()
                    )));
                }
                _ => Type::Bool,
            }
        }
    })
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::And => "and",
        Op::Or => "or",
        Op::Eq => "eq",
        Op::Ne => "ne",
        Op::Gt => "gt",
        Op::Ge => "ge",
        Op::Lt => "lt",
        Op::Le => "le",
    }
}

fn eval(e: &Expr, row: &Row<'_>) -> Value {
    match e {
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::Int(n) => Value::Int(*n),
        Expr::Property(p) => property(*p, row),
        Expr::Call(f, args) => {
            let values: Vec<Value> = args.iter().map(|a| eval(a, row)).collect();
            call(*f, &values)
        }
        Expr::Not(inner) => Value::Bool(!matches!(eval(inner, row), Value::Bool(true))),
        Expr::Binary(Op::And, a, b) => {
            Value::Bool(eval(a, row) == Value::Bool(true) && eval(b, row) == Value::Bool(true))
        }
        Expr::Binary(Op::Or, a, b) => {
            Value::Bool(eval(a, row) == Value::Bool(true) || eval(b, row) == Value::Bool(true))
        }
        Expr::Binary(op, a, b) => {
            let ordering = compare(&eval(a, row), &eval(b, row));
            Value::Bool(match op {
                Op::Eq => ordering == Ordering::Equal,
                Op::Ne => ordering != Ordering::Equal,
                Op::Gt => ordering == Ordering::Greater,
                Op::Ge => ordering != Ordering::Less,
                Op::Lt => ordering == Ordering::Less,
                Op::Le => ordering != Ordering::Greater,
                Op::And | Op::Or => false,
            })
        }
    }
}

/// Strings compare case-insensitively: the gallery's V2 feed ran on a case-insensitive SQL
/// collation and clients send ids in the user's casing (`Id eq 'newtonsoft.json'`), as ids are
/// case-insensitive everywhere in NuGet (N-1).
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Str(a), Value::Str(b)) => a.to_lowercase().cmp(&b.to_lowercase()),
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        // Type-checked at parse time: values of different types never meet.
        _ => Ordering::Less,
    }
}

fn property(p: Property, row: &Row<'_>) -> Value {
    let v = row.version;
    match p {
        Property::Id => Value::Str(v.id().as_str().to_owned()),
        Property::Version => Value::Str(v.version().to_full()),
        Property::NormalizedVersion => Value::Str(v.version().to_normalized()),
        Property::IsLatestVersion => Value::Bool(row.latest),
        Property::IsAbsoluteLatestVersion => Value::Bool(row.absolute_latest),
        Property::IsPrerelease => Value::Bool(v.is_prerelease()),
        Property::Listed => Value::Bool(v.listed),
    }
}

fn call(f: Function, args: &[Value]) -> Value {
    let text = |i: usize| match args.get(i) {
        Some(Value::Str(s)) => s.as_str(),
        _ => "",
    };
    let lower = |i: usize| text(i).to_lowercase();
    let position = |found: Option<usize>| {
        Value::Int(found.map_or(-1, |at| i64::try_from(at).unwrap_or(i64::MAX)))
    };
    match f {
        Function::ToLower => Value::Str(text(0).to_lowercase()),
        Function::ToUpper => Value::Str(text(0).to_uppercase()),
        Function::Trim => Value::Str(text(0).trim().to_owned()),
        Function::Length => Value::Int(i64::try_from(text(0).chars().count()).unwrap_or(0)),
        // substringof(needle, haystack): OData v2's argument order.
        Function::SubstringOf => Value::Bool(lower(1).contains(&lower(0))),
        Function::StartsWith => Value::Bool(lower(0).starts_with(&lower(1))),
        Function::EndsWith => Value::Bool(lower(0).ends_with(&lower(1))),
        Function::IndexOf => position(lower(0).find(&lower(1))),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Int(i64),
    Open,
    Close,
    Comma,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Name(n) => format!("`{n}`"),
            Token::Str(s) => format!("string '{s}'"),
            Token::Int(n) => format!("number {n}"),
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
            Token::Comma => "`,`".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, Error> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                let t = match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                };
                tokens.push((pos, t));
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        // `''` is a quote inside a string.
                        Some((_, '\'')) if chars.peek().map(|&(_, c)| c) == Some('\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some((_, '\'')) => break,
                        Some((_, c)) => s.push(c),
                        None => {
                            return Err(invalid(format!(
                                "the string at position {pos} has no closing quote (write a quote inside a string as '')"
                            )));
                        }
                    }
                }
                tokens.push((pos, Token::Str(s)));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut s = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_ascii_digit() || (c == '-' && s.is_empty()) {
                        s.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let n = s.parse().map_err(|_| {
                    invalid(format!("`{s}` at position {pos} is not a whole number"))
                })?;
                tokens.push((pos, Token::Int(n)));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut s = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        s.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push((pos, Token::Name(s)));
            }
            other => {
                return Err(invalid(format!(
                    "unexpected `{other}` at position {pos}: quote strings with '...'"
                )));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(0, |(p, _)| *p)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Name(n)) if n == word);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, want: Token) -> Result<(), Error> {
        let pos = self.position();
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(invalid(format!(
                "expected {} at position {pos}, found {}",
                want.describe(),
                t.describe()
            ))),
            None => Err(invalid(format!(
                "it ends where {} is expected",
                want.describe()
            ))),
        }
    }

    fn deeper(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid(format!("it nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, Error> {
        let mut left = self.and()?;
        while self.keyword("or") {
            let right = self.and()?;
            left = Expr::Binary(Op::Or, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, Error> {
        let mut left = self.not()?;
        while self.keyword("and") {
            let right = self.not()?;
            left = Expr::Binary(Op::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, Error> {
        if self.keyword("not") {
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, Error> {
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Token::Name(n)) => match n.as_str() {
                "eq" => Some(Op::Eq),
                "ne" => Some(Op::Ne),
                "gt" => Some(Op::Gt),
                "ge" => Some(Op::Ge),
                "lt" => Some(Op::Lt),
                "le" => Some(Op::Le),
                _ => None,
            },
            _ => None,
        };
        let Some(op) = op else {
            return Ok(left);
        };
        self.at += 1;
        let right = self.operand()?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    fn operand(&mut self) -> Result<Expr, Error> {
        let pos = self.position();
        match self.next() {
            Some(Token::Open) => {
                self.deeper()?;
                let inner = self.or()?;
                self.expect(Token::Close)?;
                self.depth -= 1;
                Ok(inner)
            }
            Some(Token::Str(s)) => Ok(Expr::Str(s)),
            Some(Token::Int(n)) => Ok(Expr::Int(n)),
            Some(Token::Name(name)) => self.name(&name, pos),
            Some(t) => Err(invalid(format!(
                "unexpected {} at position {pos}",
                t.describe()
            ))),
            None => Err(invalid("it ends where a value is expected".into())),
        }
    }

    fn name(&mut self, name: &str, pos: usize) -> Result<Expr, Error> {
        match name {
            "true" => return Ok(Expr::Bool(true)),
            "false" => return Ok(Expr::Bool(false)),
            "null" => {
                return Err(invalid(format!(
                    "`null` at position {pos}: the filterable properties are never null"
                )));
            }
            _ => {}
        }
        if self.peek() == Some(&Token::Open) {
            let Some(&(_, f)) = Function::ALL.iter().find(|(n, _)| *n == name) else {
                let known: Vec<&str> = Function::ALL.iter().map(|(n, _)| *n).collect();
                return Err(invalid(format!(
                    "unknown function `{name}` at position {pos}: use one of {}",
                    known.join(", ")
                )));
            };
            self.at += 1;
            self.deeper()?;
            let mut args = Vec::new();
            if self.peek() != Some(&Token::Close) {
                args.push(self.or()?);
                while self.peek() == Some(&Token::Comma) {
                    self.at += 1;
                    args.push(self.or()?);
                }
            }
            self.expect(Token::Close)?;
            self.depth -= 1;
            let want = f.signature().0.len();
            if args.len() != want {
                return Err(invalid(format!(
                    "`{name}` at position {pos} takes {want} argument(s), not {}",
                    args.len()
                )));
            }
            return Ok(Expr::Call(f, args));
        }
        if let Some(&(_, p)) = Property::ALL.iter().find(|(n, _)| *n == name) {
            return Ok(Expr::Property(p));
        }
        let known: Vec<&str> = Property::ALL.iter().map(|(n, _)| *n).collect();
        Err(invalid(format!(
            "`{name}` at position {pos} is not a property that can be filtered on: use one of {} \
             (to match titles, tags or descriptions, use Search()?searchTerm='...')",
            known.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::odata::rows::Row;
    use crate::api::test_support::{record, unlist, version};
    use crate::feed::record::VersionFilter;

    /// Contoso.Lib 1.0.0, 1.1.0 (unlisted), 2.0.0-beta: the rows of a SemVer1 client.
    fn rows_of(f: &str) -> Vec<String> {
        let mut r = record(&[
            version("Contoso.Lib", "1.0.0"),
            version("Contoso.Lib", "1.1.0"),
            version("Contoso.Lib", "2.0.0-beta"),
        ]);
        unlist(&mut r, "1.1.0");
        let filter = Filter::parse(f).unwrap();
        Row::counted(&r.record, VersionFilter::ALL, Vec::new())
            .filter(|row| filter.admits(row))
            .map(|row| row.version.version().to_normalized())
            .collect()
    }

    #[test]
    fn filters_clients_send() {
        assert_eq!(rows_of("IsLatestVersion"), ["1.0.0"]);
        assert_eq!(rows_of("IsAbsoluteLatestVersion"), ["2.0.0-beta"]);
        assert_eq!(
            rows_of("Id eq 'contoso.lib' and IsPrerelease eq false").len(),
            2
        );
        assert_eq!(
            rows_of("tolower(Id) eq 'contoso.lib' and Version eq '1.1.0'"),
            ["1.1.0"]
        );
        assert_eq!(rows_of("(Listed eq true) and not IsPrerelease"), ["1.0.0"]);
        assert_eq!(
            rows_of("IsLatestVersion or IsAbsoluteLatestVersion").len(),
            2
        );
        assert_eq!(
            rows_of("substringof('lib', tolower(Id)) and startswith(Version, '2')").len(),
            1
        );
        assert_eq!(rows_of("Id eq 'Other'"), Vec::<String>::new());
        assert_eq!(
            rows_of("indexof(Id, 'LIB') eq 8 and length(Id) gt 3").len(),
            3
        );
    }

    #[test]
    fn an_id_condition_at_the_top_narrows_the_lookup() {
        let id = |f: &str| Filter::parse(f).unwrap().required_id();
        assert_eq!(id("Id eq 'Contoso.Lib'").as_deref(), Some("contoso.lib"));
        assert_eq!(
            id("IsLatestVersion and tolower(Id) eq 'a'").as_deref(),
            Some("a")
        );
        assert_eq!(id("Id eq 'A' or Id eq 'B'"), None);
        assert_eq!(id("not (Id eq 'A')"), None);
    }

    #[test]
    fn bad_filters_are_refused_with_a_message() {
        for (bad, says) in [
            ("Id eq", "ends where a value"),
            ("Id eq 'x", "no closing quote"),
            ("frobnicate(Id) eq 'x'", "unknown function `frobnicate`"),
            ("Title eq 'x'", "Search()"),
            ("Id eq true", "compares a string with a boolean"),
            ("Id", "not a condition"),
            ("IsLatestVersion IsPrerelease", "unexpected `IsPrerelease`"),
            ("Id eq 'x'; DROP TABLE Packages", "unexpected `;`"),
            ("tolower(Id, Id) eq 'x'", "takes 1 argument"),
            ("Id eq null", "never null"),
            ("99999999999999999999 eq 1", "not a whole number"),
        ] {
            let err = Filter::parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let deep = format!("{}IsLatestVersion{}", "(".repeat(40), ")".repeat(40));
        assert!(
            Filter::parse(&deep)
                .unwrap_err()
                .to_string()
                .contains("nests")
        );
        let long = "IsLatestVersion or ".repeat(300) + "IsLatestVersion";
        assert!(
            Filter::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("limit")
        );
    }
}
