//! DescribeInstances filters as EC2 has them: names `tag:KEY`, `tag-key`,
//! `tag-value`, `instance-state-name`, `instance-id`, `instance-type`,
//! `availability-zone`; several values of one filter are OR'ed, filters
//! AND'ed; values take the wildcards `*` (any run of characters) and `?`
//! (one character), and `\` escapes the next character.

use super::*;

/// An EC2 filter value: literal, or a wildcard pattern.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    /// The value with escapes resolved, when it has no wildcard.
    literal: Option<String>,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    Any,
    One,
}

impl Pattern {
    pub(super) fn new(value: &str) -> Self {
        let mut tokens = Vec::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '\\' => Token::Char(chars.next().unwrap_or('\\')),
                '*' => Token::Any,
                '?' => Token::One,
                c => Token::Char(c),
            });
        }
        let literal = tokens
            .iter()
            .map(|t| match t {
                Token::Char(c) => Some(*c),
                _ => None,
            })
            .collect::<Option<String>>();
        Self { literal, tokens }
    }

    /// The value, when it is a literal (the model's tag index answers it).
    pub(super) fn literal(&self) -> Option<&str> {
        self.literal.as_deref()
    }

    pub(super) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        // Iterative wildcard matching with one backtrack point per `*`.
        let (mut t, mut p) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::Char(c)) if *c == text[t] => {
                    t += 1;
                    p += 1;
                }
                Some(Token::One) => {
                    t += 1;
                    p += 1;
                }
                Some(Token::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p..].iter().all(|t| *t == Token::Any)
    }
}

pub(super) fn any(patterns: &[Pattern], text: &str) -> bool {
    patterns.iter().any(|p| p.matches(text))
}

/// One filter that the model's index cannot answer alone.
pub(super) enum Residual {
    Tag(String, Vec<Pattern>),
    TagKey(Vec<Pattern>),
    TagValue(Vec<Pattern>),
    InstanceId(Vec<Pattern>),
    InstanceType(Vec<Pattern>),
    Zone(Vec<Pattern>),
    Nothing,
}

impl Residual {
    pub(super) fn admits(&self, r: &InstanceRecord) -> bool {
        let tags = &r.config.tags;
        match self {
            Self::Tag(key, values) => tags.get(key).is_some_and(|v| any(values, v)),
            Self::TagKey(keys) => tags.keys().any(|k| any(keys, k)),
            Self::TagValue(values) => tags.values().any(|v| any(values, v)),
            Self::InstanceId(ids) => any(ids, &r.id),
            Self::InstanceType(types) => any(types, &r.config.instance_type),
            Self::Zone(zones) => any(zones, ZONE),
            Self::Nothing => false,
        }
    }
}

/// Splits EC2 filters into what the model's index answers (a literal
/// single-valued tag filter, states) and what is checked per instance.
pub(super) fn filters(params: &Params) -> Result<(InstanceFilter, Vec<Residual>), WireError> {
    let mut filter = InstanceFilter::default();
    let mut states: Option<Vec<CloudInstanceState>> = None;
    let mut residual = Vec::new();
    for f in params.members("Filter") {
        let name = f.get("Name").unwrap_or_default();
        let values = f.strings("Value");
        let patterns: Vec<Pattern> = values.iter().map(|v| Pattern::new(v)).collect();
        if let Some(key) = name.strip_prefix("tag:") {
            match patterns.as_slice() {
                [one] if one.literal().is_some() && !filter.tags.contains_key(key) => {
                    let value = one.literal().unwrap_or_default().to_owned();
                    filter.tags.insert(key.to_owned(), value);
                }
                _ => residual.push(Residual::Tag(key.to_owned(), patterns)),
            }
            continue;
        }
        match name {
            "instance-state-name" => {
                let wanted: Vec<CloudInstanceState> = CloudInstanceState::ALL
                    .iter()
                    .copied()
                    .filter(|s| any(&patterns, mapping::state(*s).0))
                    .collect();
                states = Some(match states {
                    Some(earlier) => earlier.into_iter().filter(|s| wanted.contains(s)).collect(),
                    None => wanted,
                });
            }
            "tag-key" => residual.push(Residual::TagKey(patterns)),
            "tag-value" => residual.push(Residual::TagValue(patterns)),
            "instance-id" => residual.push(Residual::InstanceId(patterns)),
            "instance-type" => residual.push(Residual::InstanceType(patterns)),
            "availability-zone" => residual.push(Residual::Zone(patterns)),
            other => return Err(invalid(format!("The filter '{other}' is invalid"))),
        }
    }
    filter.states = match states {
        // No state filter: EC2 lists every state, terminated included.
        None => CloudInstanceState::ALL.to_vec(),
        // A state filter no value of which exists matches nothing.
        Some(states) if states.is_empty() => return Ok((filter, vec![Residual::Nothing])),
        Some(states) => states,
    };
    Ok((filter, residual))
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn wildcards_and_escapes_as_ec2_has_them() {
        let cases = [
            ("web-*", "web-1", true),
            ("web-*", "web-", true),
            ("web-*", "db-1", false),
            ("w?b", "web", true),
            ("w?b", "wb", false),
            ("*-prod-*", "a-prod-b", true),
            (r"a\*b", "a*b", true),
            (r"a\*b", "axb", false),
            (r"a\?", "a?", true),
            (r"a\\b", r"a\b", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("*", "", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                Pattern::new(pattern).matches(text),
                expected,
                "{pattern} vs {text}"
            );
        }
        assert_eq!(Pattern::new(r"a\*").literal(), Some("a*"));
        assert_eq!(Pattern::new("a*").literal(), None);
    }
}
