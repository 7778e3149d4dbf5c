//! Compute Engine list filters, the subset this face understands, on the
//! fields `name`, `status` and `labels.KEY` (instances) or the fields a
//! list names (operations: `operationType`, `targetLink`, …). Compute takes two kinds of
//! filter, which "cannot be mixed in one request" (the API reference of
//! `filter`):
//!
//! - AIP-160: `FIELD = VALUE`, `FIELD != VALUE`, and `FIELD : VALUE` (has:
//!   `labels.KEY:*` is true when the label is defined, otherwise it compares
//!   as `=`), with values quoted (`"…"`, backslash escapes) or bare, combined
//!   with `AND`, `OR` and parentheses;
//! - regular expressions: `FIELD eq VALUE` or `FIELD ne VALUE`, alone or as
//!   parenthesized expressions side by side (all must hold); the value (bare,
//!   `'…'` or `"…"`) is an RE2 expression that must match the whole field.

use std::collections::BTreeMap;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    Cmp { field: Field, op: Op, value: String },
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// A comparison operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `:` (has)
    Has,
    /// `eq` (`true`) or `ne` (`false`): a whole-field regular expression.
    Regex(Pattern, bool),
}

/// A compiled regular expression, compared by its source.
#[derive(Debug, Clone)]
pub(crate) struct Pattern(regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Pattern {}

/// The largest compiled regular expression a request may ask for.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Pattern {
    fn new(value: &str) -> Result<Self, String> {
        regex::RegexBuilder::new(&format!("^(?:{value})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(Self)
            .map_err(|e| format!("invalid regular expression {value:?}: {e}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Status,
    Label(String),
    /// Another string field the list allows (see [`parse_with`]).
    Other(String),
}

/// What a filter is evaluated on.
pub(crate) struct Subject<'a> {
    pub(crate) name: &'a str,
    pub(crate) status: &'a str,
    pub(crate) labels: &'a BTreeMap<String, String>,
    /// The other fields' values, by name.
    pub(crate) other: &'a [(&'a str, &'a str)],
}

impl Expr {
    pub(crate) fn matches(&self, s: &Subject<'_>) -> bool {
        match self {
            Expr::Cmp { field, op, value } => {
                let actual = match field {
                    Field::Name => Some(s.name),
                    Field::Status => Some(s.status),
                    Field::Label(key) => s.labels.get(key).map(String::as_str),
                    Field::Other(name) => s.other.iter().find(|(n, _)| n == name).map(|(_, v)| *v),
                };
                match op {
                    Op::Eq => actual == Some(value.as_str()),
                    Op::Ne => actual != Some(value.as_str()),
                    Op::Has if value == "*" => actual.is_some(),
                    Op::Has => actual == Some(value.as_str()),
                    Op::Regex(pattern, equal) => {
                        actual.is_some_and(|a| pattern.0.is_match(a)) == *equal
                    }
                }
            }
            Expr::And(all) => all.iter().all(|e| e.matches(s)),
            Expr::Or(any) => any.iter().any(|e| e.matches(s)),
        }
    }

    /// The `labels.KEY = VALUE` comparisons every match must satisfy (the
    /// top-level conjuncts), which the model's tag index can answer.
    pub(crate) fn required_labels(&self) -> Vec<(String, String)> {
        match self {
            Expr::Cmp {
                field: Field::Label(key),
                op: Op::Eq,
                value,
            } => vec![(key.clone(), value.clone())],
            Expr::And(all) => all.iter().flat_map(Expr::required_labels).collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Eq,
    Ne,
    Has,
    Word(String),
    Quoted(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '=' => {
                chars.next();
                tokens.push(Token::Eq);
            }
            ':' => {
                chars.next();
                tokens.push(Token::Has);
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err("expected != ".to_owned());
                }
                tokens.push(Token::Ne);
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\\') if quote == '"' => {
                            value.push(chars.next().ok_or("dangling escape")?)
                        }
                        Some(c) if c == quote => break,
                        Some(c) => value.push(c),
                        None => return Err("unterminated string".to_owned()),
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '=' | '!' | '"' | ':') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// The deepest nesting of parentheses a filter may have: the parser
/// recurses once per level, so a request cannot exhaust the stack.
const MAX_DEPTH: usize = 32;
/// The longest filter accepted, in bytes.
const MAX_LEN: usize = 16 * 1024;

struct Parser<'f> {
    /// The fields besides `name`, `status` and `labels.KEY` the list takes.
    other: &'f [&'f str],
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w == word)
    }

    /// conjunction := disjunction ( [AND] disjunction )*
    fn conjunction(&mut self) -> Result<Expr, String> {
        let mut all = vec![self.disjunction()?];
        while self.peek().is_some() && self.peek() != Some(&Token::Close) {
            if self.keyword("AND") {
                self.next();
            }
            all.push(self.disjunction()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::And(all)
        })
    }

    /// disjunction := primary ( OR primary )*
    fn disjunction(&mut self) -> Result<Expr, String> {
        let mut any = vec![self.primary()?];
        while self.keyword("OR") {
            self.next();
            any.push(self.primary()?);
        }
        Ok(if any.len() == 1 {
            any.remove(0)
        } else {
            Expr::Or(any)
        })
    }

    /// primary := ( conjunction ) | FIELD (=|!=|:|eq|ne) VALUE
    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Open) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} parentheses"));
                }
                let inner = self.conjunction()?;
                self.depth -= 1;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("missing )".to_owned()),
                }
            }
            Some(Token::Word(name)) => {
                let field = match name.as_str() {
                    "name" => Field::Name,
                    "status" => Field::Status,
                    other if self.other.contains(&other) => Field::Other(other.to_owned()),
                    other => match other.strip_prefix("labels.") {
                        Some(key) if !key.is_empty() => Field::Label(key.to_owned()),
                        _ => return Err(format!("unsupported field {other:?}")),
                    },
                };
                let op = match self.next() {
                    Some(Token::Eq) => Op::Eq,
                    Some(Token::Ne) => Op::Ne,
                    Some(Token::Has) => Op::Has,
                    Some(Token::Word(w)) if w == "eq" || w == "ne" => {
                        // The regular expression is read below.
                        Op::Regex(Pattern::new("")?, w == "eq")
                    }
                    _ => return Err(format!("expected =, !=, :, eq or ne after {name}")),
                };
                let value = match self.next() {
                    Some(Token::Quoted(v) | Token::Word(v)) => v,
                    _ => return Err(format!("expected a value for {name}")),
                };
                let op = match op {
                    Op::Regex(_, equal) => Op::Regex(Pattern::new(&value)?, equal),
                    op => op,
                };
                Ok(Expr::Cmp { field, op, value })
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Parses an instance filter; an empty one is `None` (everything matches).
pub(crate) fn parse(text: &str) -> Result<Option<Expr>, String> {
    parse_with(text, &[])
}

/// Parses a filter of a list whose items have the string fields `other`
/// besides `name`, `status` and labels.
pub(crate) fn parse_with(text: &str, other: &[&str]) -> Result<Option<Expr>, String> {
    if text.len() > MAX_LEN {
        return Err(format!("longer than {MAX_LEN} bytes"));
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut parser = Parser {
        other,
        tokens,
        at: 0,
        depth: 0,
    };
    let expr = parser.conjunction()?;
    if let Some(t) = parser.peek() {
        return Err(format!("unexpected {t:?}"));
    }
    let (mut regex, mut aip, mut or) = (false, false, false);
    expr.kinds(&mut regex, &mut aip, &mut or);
    if regex && aip {
        return Err(
            "regular expressions (eq, ne) and AIP-160 comparisons cannot be mixed".to_owned(),
        );
    }
    if regex && or {
        return Err("regular-expression filters are parenthesized expressions that all must hold; OR is not one".to_owned());
    }
    Ok(Some(expr))
}

impl Expr {
    /// Which kinds of comparison the filter uses, and whether it has OR.
    fn kinds(&self, regex: &mut bool, aip: &mut bool, or: &mut bool) {
        match self {
            Expr::Cmp {
                op: Op::Regex(..), ..
            } => *regex = true,
            Expr::Cmp { .. } => *aip = true,
            Expr::And(all) => all.iter().for_each(|e| e.kinds(regex, aip, or)),
            Expr::Or(any) => {
                *or = true;
                any.iter().for_each(|e| e.kinds(regex, aip, or));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_and_huge_filters_are_refused_not_a_crash() {
        let deep = format!("{}name = a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("longer than"));
        let nested = format!("{}name = a{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&nested).unwrap_err().contains("nested deeper"));
        let fine = format!("{}name = a{}", "(".repeat(30), ")".repeat(30));
        assert!(parse(&fine).unwrap().is_some());
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn labels_and_statuses() {
        let f =
            parse(r#"(labels.fleet-id = "blue") AND (status = "RUNNING" OR status = "STAGING")"#)
                .unwrap()
                .unwrap();
        let blue = labels(&[("fleet-id", "blue")]);
        let yes = Subject {
            name: "a",
            status: "STAGING",
            labels: &blue,
            other: &[],
        };
        let no = Subject {
            name: "a",
            status: "TERMINATED",
            labels: &blue,
            other: &[],
        };
        assert!(f.matches(&yes) && !f.matches(&no));
        assert_eq!(
            f.required_labels(),
            [("fleet-id".to_owned(), "blue".to_owned())]
        );
    }

    #[test]
    fn quoted_values_cannot_escape_their_comparison() {
        // A value that tries to close the quote and add a clause stays a value.
        let f = parse(r#"labels.k = "x\" OR name != \"y""#)
            .unwrap()
            .unwrap();
        assert_eq!(
            f,
            Expr::Cmp {
                field: Field::Label("k".into()),
                op: Op::Eq,
                value: r#"x" OR name != "y"#.into()
            }
        );
        for bad in [
            "labels.k =",
            "(status = RUNNING",
            "zone = x",
            r#"labels.k = "open"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("  ").unwrap(), None);
    }

    #[test]
    fn has_and_regular_expressions_as_compute_takes_them() {
        let blue = labels(&[("fleet", "blue-7")]);
        let none = labels(&[]);
        let on = |labels| Subject {
            name: "web-12",
            status: "RUNNING",
            labels,
            other: &[],
        };
        let yes = |f: &str, labels| parse(f).unwrap().unwrap().matches(&on(labels));
        assert!(yes("labels.fleet:*", &blue) && !yes("labels.fleet:*", &none));
        assert!(yes("labels.fleet:blue-7", &blue) && !yes("labels.fleet:blue", &blue));
        assert!(yes("name eq web-.*", &blue) && !yes("name eq web", &blue));
        assert!(yes("name ne .*-instance", &blue));
        assert!(yes(
            "(name eq 'web-[0-9]+') (labels.fleet eq \"blue-.*\")",
            &blue
        ));
        assert!(!yes("(name eq 'web-[0-9]+') (labels.fleet eq red)", &blue));
        assert!(yes("labels.fleet ne red", &none));
        for bad in [
            "name eq web-.* AND status = RUNNING",
            "(name eq a) OR (name eq b)",
            "name eq (",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
