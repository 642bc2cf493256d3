//! Parsing and matching of `google.api.http` path templates for HTTP/JSON transcoding.

use std::borrow::Cow;
use std::fmt;

/// One segment of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A literal segment, stored percent-decoded.
    Literal(String),
    /// `*`: exactly one non-empty request segment.
    Any,
    /// `**`: zero or more request segments; only ever the last template segment.
    Rest,
}

/// A variable: a field path bound to the template segments `start..end`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Variable {
    /// The dotted field path, e.g. `book.name`.
    field: String,
    /// Index of the first template segment the variable covers.
    start: usize,
    /// Index one past the last template segment the variable covers.
    end: usize,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    /// The flattened segments (variables' sub-patterns are inlined).
    segments: Vec<Segment>,
    /// The variables, in template order.
    variables: Vec<Variable>,
    /// The verb after the final ':', percent-decoded, if any.
    verb: Option<String>,
}

/// Why a template could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError(pub(crate) String);

/// Displays the reason with a prefix.
impl fmt::Display for TemplateError {
    /// Formats the error as `invalid path template: <reason>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid path template: {}", self.0)
    }
}

/// `TemplateError` is a standard error.
impl std::error::Error for TemplateError {}

/// Shorthand for returning a `TemplateError`.
fn fail<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

/// Parsing and matching.
impl Template {
    /// Parses a template such as `/v1/{name=shelves/*}/books:list`.
    pub(crate) fn parse(text: &str) -> Result<Template, TemplateError> {
        let Some(body) = text.strip_prefix('/') else {
            return fail("must start with '/'");
        };
        // Check the braces, and find the verb: the last top-level ':' after the last top-level '/'.
        let (mut open, mut colon) = (false, None);
        for (i, b) in body.bytes().enumerate() {
            match b {
                b'{' if open => return fail("nested variables are not allowed"),
                b'{' => open = true,
                b'}' if !open => return fail("unbalanced '}'"),
                b'}' => open = false,
                b'/' if !open => colon = None,
                b':' if !open => colon = Some(i),
                _ => {}
            }
        }
        if open {
            return fail("unclosed '{'");
        }
        let (body, verb) = match colon {
            Some(i) => (&body[..i], Some(literal(&body[i + 1..], "verb")?)),
            None => (body, None),
        };
        let mut t = Template {
            segments: Vec::new(),
            variables: Vec::new(),
            verb,
        };
        for piece in split_top_level(body) {
            let Some(inner) = piece.strip_prefix('{') else {
                t.segments.push(segment(piece)?);
                continue;
            };
            let Some(inner) = inner.strip_suffix('}') else {
                return fail(format!("variable must be a whole segment: '{piece}'"));
            };
            let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
            check_field_path(field)?;
            if t.variables.iter().any(|v| v.field == field) {
                return fail(format!("duplicate variable '{field}'"));
            }
            let start = t.segments.len();
            for seg in pattern.split('/') {
                t.segments.push(segment(seg)?);
            }
            let end = t.segments.len();
            t.variables.push(Variable {
                field: field.to_string(),
                start,
                end,
            });
        }
        let rest = t.segments.iter().position(|s| *s == Segment::Rest);
        if rest.is_some_and(|i| i + 1 != t.segments.len()) {
            return fail("'**' must be the last segment");
        }
        Ok(t)
    }

    /// The field paths of the variables, in order, e.g. `["shelf", "book.name"]`.
    #[cfg(test)]
    pub(crate) fn variables(&self) -> Vec<&str> {
        self.variables.iter().map(|v| v.field.as_str()).collect()
    }

    /// Matches a request path (no query string, still percent-encoded); on a match, the
    /// bindings (field path, decoded value) in template order.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let mut rest = path.strip_prefix('/')?;
        if let Some(verb) = &self.verb {
            let last = rest.rfind('/').map_or(0, |i| i + 1);
            let colon = last + rest[last..].rfind(':')?;
            if decoded(&rest[colon + 1..], false)? != verb.as_str() {
                return None;
            }
            rest = &rest[..colon];
        }
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        if parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let decoded = parts
            .iter()
            .map(|p| decoded(p, false))
            .collect::<Option<Vec<_>>>()?;
        let n = self.segments.len();
        let has_rest = self.segments.last() == Some(&Segment::Rest);
        let fixed = if has_rest { n - 1 } else { n };
        if parts.len() < fixed || (!has_rest && parts.len() != n) {
            return None;
        }
        for (seg, part) in self.segments[..fixed].iter().zip(&decoded) {
            if matches!(seg, Segment::Literal(lit) if lit != part.as_ref()) {
                return None;
            }
        }
        self.variables
            .iter()
            .map(|v| {
                let single = v.end - v.start == 1 && self.segments[v.start] != Segment::Rest;
                let value = if single {
                    decoded[v.start].clone().into_owned()
                } else {
                    let end = if has_rest && v.end == n {
                        parts.len()
                    } else {
                        v.end
                    };
                    decode(&parts[v.start..end].join("/"), true)?
                };
                Some((v.field.clone(), value))
            })
            .collect()
    }

    /// Literal segments count, the verb counting as one: templates with more literal
    /// segments are more specific (a router tries the more specific ones first, so that
    /// `/v1/users/{id}:cancel` wins over `/v1/users/{id}` for `/v1/users/7:cancel`).
    pub(crate) fn literal_count(&self) -> usize {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        literals + usize::from(self.verb.is_some())
    }
}

/// Splits `s` on the '/' characters that are outside braces.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut start, mut open) = (Vec::new(), 0, false);
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'{' => open = true,
            b'}' => open = false,
            b'/' if !open => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Parses one non-variable segment: `*`, `**` or a literal.
fn segment(s: &str) -> Result<Segment, TemplateError> {
    match s {
        "" => fail("empty segment"),
        "*" => Ok(Segment::Any),
        "**" => Ok(Segment::Rest),
        _ => literal(s, "literal").map(Segment::Literal),
    }
}

/// Validates and percent-decodes a literal (`what` names it in errors).
fn literal(s: &str, what: &str) -> Result<String, TemplateError> {
    if s.is_empty() {
        return fail(format!("empty {what}"));
    }
    if s.contains(['{', '}', '*', '/']) {
        return fail(format!("bad {what} '{s}'"));
    }
    decode(s, false).map_or_else(|| fail(format!("bad percent-escape in {what} '{s}'")), Ok)
}

/// Checks that `path` is `IDENT { "." IDENT }`.
fn check_field_path(path: &str) -> Result<(), TemplateError> {
    let ident = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if path.split('.').all(ident) {
        Ok(())
    } else {
        fail(format!("bad field path '{path}'"))
    }
}

/// Percent-decodes `s`, keeping `%2F` encoded if `keep_slash`; `None` on a bad escape or non-UTF-8.
pub(crate) fn decode(s: &str, keep_slash: bool) -> Option<String> {
    decoded(s, keep_slash).map(Cow::into_owned)
}

/// [`decode`], borrowing `s` when it has no escape (most path segments).
fn decoded(s: &str, keep_slash: bool) -> Option<Cow<'_, str>> {
    let Some(first) = s.find('%') else {
        return Some(Cow::Borrowed(s));
    };
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let escape = bytes.get(i..i + 3)?;
        let byte = hex(escape[1])? * 16 + hex(escape[2])?;
        if keep_slash && byte == b'/' {
            out.extend_from_slice(escape);
        } else {
            out.push(byte);
        }
        i += 3;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Unit tests.
#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `t`, panicking on error.
    fn tpl(t: &str) -> Template {
        Template::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    /// Builds an owned binding list.
    fn binds(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// Asserts that `t` fails to parse with a message containing `needle`.
    fn parse_err(t: &str, needle: &str) {
        let e = Template::parse(t).expect_err(t);
        assert!(e.0.contains(needle), "{t}: got {e}, wanted '{needle}'");
    }

    /// Every kind of malformed template is rejected with a telling message.
    #[test]
    fn parse_errors() {
        parse_err("v1/users", "start with '/'");
        parse_err("", "start with '/'");
        parse_err("/v1/{id", "unclosed '{'");
        parse_err("/v1/id}", "unbalanced '}'");
        parse_err("/v1/{a={b}}", "nested");
        parse_err("/v1/**/x", "'**' must be the last");
        parse_err("/v1/{name=**}/x", "'**' must be the last");
        parse_err("/v1//x", "empty segment");
        parse_err("/", "empty segment");
        parse_err("/v1/", "empty segment");
        parse_err("/v1/{name=}", "empty segment");
        parse_err("/v1/{a}/{a}", "duplicate variable 'a'");
        parse_err("/v1/{1a}", "bad field path");
        parse_err("/v1/{a..b}", "bad field path");
        parse_err("/v1/{a-b}", "bad field path");
        parse_err("/v1/{}", "bad field path");
        parse_err("/v1/x:", "empty verb");
        parse_err("/v1/x{a}", "bad literal");
        parse_err("/v1/{a}x", "whole segment");
        parse_err("/v1/a*", "bad literal");
        parse_err("/v1/%zz", "percent-escape");
        parse_err("/v1/x:{a}", "bad verb");
    }

    /// Errors display with a prefix; variables are listed in template order.
    #[test]
    fn display_and_variables() {
        let e = Template::parse("x").unwrap_err();
        assert_eq!(e.to_string(), "invalid path template: must start with '/'");
        let t = tpl("/v1/{shelf}/books/{book.name=**}");
        assert_eq!(t.variables(), ["shelf", "book.name"]);
        assert!(tpl("/v1/users").variables().is_empty());
    }

    /// `{id}` matches exactly one non-empty segment.
    #[test]
    fn single_variable() {
        let t = tpl("/v1/users/{id}");
        assert_eq!(t, tpl("/v1/users/{id=*}"));
        assert_eq!(t.matches("/v1/users/42"), binds(&[("id", "42")]));
        assert_eq!(t.matches("/v1/users/42/x"), None);
        assert_eq!(t.matches("/v1/users"), None);
        assert_eq!(t.matches("/v1/users/"), None);
        assert_eq!(t.matches("v1/users/42"), None);
        assert_eq!(t.matches("/v1/people/42"), None);
        assert_eq!(t.matches("/v1//users/42"), None);
    }

    /// `*` and `**` outside variables match without binding anything.
    #[test]
    fn wildcards_outside_variables() {
        let t = tpl("/v1/*/x/**");
        assert_eq!(t.matches("/v1/a/x"), binds(&[]));
        assert_eq!(t.matches("/v1/a/x/b/c"), binds(&[]));
        assert_eq!(t.matches("/v1/a/y"), None);
        assert_eq!(t.matches("/v1/a/x/b//c"), None);
        assert_eq!(t.matches("/v1/a/x/%zz"), None);
        let root = tpl("/**");
        assert_eq!(root.matches("/"), binds(&[]));
        assert_eq!(root.matches("/a/b"), binds(&[]));
        assert_eq!(root.matches(""), None);
    }

    /// A variable with a sub-pattern captures the matched path text.
    #[test]
    fn multi_segment_variable() {
        let t = tpl("/v1/{name=shelves/*/books/*}");
        let got = t.matches("/v1/shelves/1/books/2");
        assert_eq!(got, binds(&[("name", "shelves/1/books/2")]));
        assert_eq!(t.matches("/v1/shelves/1/books"), None);
        assert_eq!(t.matches("/v1/shelves/1/cds/2"), None);
        assert_eq!(t.matches("/v1/shelves/1/books/2/x"), None);
    }

    /// A `**` variable captures the rest, including zero further segments.
    #[test]
    fn rest_variable() {
        let t = tpl("/v1/{name=files/**}");
        assert_eq!(
            t.matches("/v1/files/a/b/c"),
            binds(&[("name", "files/a/b/c")])
        );
        assert_eq!(t.matches("/v1/files/a"), binds(&[("name", "files/a")]));
        assert_eq!(t.matches("/v1/files"), binds(&[("name", "files")]));
        assert_eq!(t.matches("/v1/dirs/a"), None);
        assert_eq!(t.matches("/v1/files/"), None);
        let bare = tpl("/v1/{path=**}");
        assert_eq!(bare.matches("/v1/a/b"), binds(&[("path", "a/b")]));
        assert_eq!(bare.matches("/v1"), binds(&[("path", "")]));
    }

    /// Bindings come back in template order.
    #[test]
    fn several_variables_in_order() {
        let t = tpl("/v1/shelves/{shelf}/books/{book.name=**}");
        let got = t.matches("/v1/shelves/s1/books/b/c");
        assert_eq!(got, binds(&[("shelf", "s1"), ("book.name", "b/c")]));
    }

    /// A dotted field path names the variable.
    #[test]
    fn nested_field_path() {
        let t = tpl("/v1/{book.name=*}");
        assert_eq!(t.variables(), ["book.name"]);
        assert_eq!(t.matches("/v1/moby"), binds(&[("book.name", "moby")]));
    }

    /// The verb is split off the last request segment at its last ':'.
    #[test]
    fn verb() {
        let t = tpl("/v1/users/{id}:cancel");
        assert_eq!(t.matches("/v1/users/7:cancel"), binds(&[("id", "7")]));
        assert_eq!(t.matches("/v1/users/7:undo"), None);
        assert_eq!(t.matches("/v1/users/7"), None);
        assert_eq!(t.matches("/v1/users/:cancel"), None);
        assert_eq!(t.matches("/v1/users/a:b:cancel"), binds(&[("id", "a:b")]));
        assert_eq!(t.matches("/v1/users/7%3Acancel"), None);
        let rest = tpl("/v1/{name=files/**}:get");
        assert_eq!(
            rest.matches("/v1/files/a/b:get"),
            binds(&[("name", "files/a/b")])
        );
        assert_eq!(rest.matches("/v1/files:get"), binds(&[("name", "files")]));
        let plain = tpl("/v1/users:batchGet");
        assert_eq!(plain.literal_count(), 3, "two literals and the verb");
        assert!(t.literal_count() > tpl("/v1/users/{id}").literal_count());
        assert_eq!(plain.matches("/v1/users:batchGet"), binds(&[]));
        assert_eq!(plain.matches("/v1/users"), None);
    }

    /// A ':' that is not in the last segment is part of a literal.
    #[test]
    fn colon_inside_literal_is_not_a_verb() {
        let t = tpl("/v1/a:b/c");
        assert_eq!(t.literal_count(), 3);
        assert_eq!(t.matches("/v1/a:b/c"), binds(&[]));
        assert_eq!(t.matches("/v1/a/c"), None);
        let var = tpl("/v1/{name=x:y}");
        assert_eq!(var.matches("/v1/x:y"), binds(&[("name", "x:y")]));
        // Without a verb in the template, a ':' in the request is ordinary text.
        assert_eq!(
            tpl("/v1/{id}").matches("/v1/7:cancel"),
            binds(&[("id", "7:cancel")])
        );
    }

    /// Single-segment values decode fully; multi-segment values keep `%2F`.
    #[test]
    fn percent_decoding() {
        let single = tpl("/v1/{id}");
        assert_eq!(single.matches("/v1/a%20b"), binds(&[("id", "a b")]));
        assert_eq!(single.matches("/v1/a%2Fb"), binds(&[("id", "a/b")]));
        assert_eq!(single.matches("/v1/caf%C3%A9"), binds(&[("id", "café")]));
        assert_eq!(single.matches("/v1/%zz"), None);
        assert_eq!(single.matches("/v1/%4"), None);
        assert_eq!(single.matches("/v1/%FF"), None);
        let multi = tpl("/v1/{name=files/**}");
        assert_eq!(
            multi.matches("/v1/files/a%2Fb/c%20d"),
            binds(&[("name", "files/a%2Fb/c d")])
        );
        assert_eq!(multi.matches("/v1/files/%zz"), None);
        let lit = tpl("/v1/my%20files/{id}");
        assert_eq!(lit.matches("/v1/my%20files/1"), binds(&[("id", "1")]));
        assert_eq!(lit.matches("/v1/my files/1"), binds(&[("id", "1")]));
    }

    /// Sorting by literal count tries the more specific templates first.
    #[test]
    fn literal_count_orders_routes() {
        let mut routes = [
            tpl("/v1/{name=**}"),
            tpl("/v1/users/{id}"),
            tpl("/v1/users/me"),
        ];
        assert_eq!(
            routes
                .iter()
                .map(Template::literal_count)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        routes.sort_by_key(|t| std::cmp::Reverse(t.literal_count()));
        let first = routes.iter().find_map(|t| t.matches("/v1/users/me"));
        assert_eq!(first, binds(&[]));
        let first = routes.iter().find_map(|t| t.matches("/v1/users/7"));
        assert_eq!(first, binds(&[("id", "7")]));
        assert_eq!(tpl("/v1/{name=shelves/*/books/*}").literal_count(), 3);
    }
}
