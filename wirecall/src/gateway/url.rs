//! URL text: query strings (`application/x-www-form-urlencoded`, `+` for a space).

/// A query parameter's key or value, decoded: `+` is a space, `%XX` a byte; `None` on a
/// bad escape or bytes that are not UTF-8.
pub(crate) fn decode_query(text: &str) -> Option<String> {
    super::template::decode(&text.replace('+', " "), false)
}

/// The decoded `(key, value)` pairs of a query string, in order; `Err` names the first
/// pair that does not decode.
pub(crate) fn query_pairs(query: &str) -> Result<Vec<(String, String)>, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (decode_query(key), decode_query(value)) {
                (Some(key), Some(value)) => Ok((key, value)),
                _ => Err(pair.to_owned()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_plus_and_escapes() {
        assert_eq!(
            query_pairs("a=1&b=x+y&c=%2B%20&d&&e=").unwrap(),
            [("a", "1"), ("b", "x y"), ("c", "+ "), ("d", ""), ("e", "")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(query_pairs("a=%zz").unwrap_err(), "a=%zz");
        assert_eq!(decode_query("%C3%A9t%C3%A9").as_deref(), Some("été"));
        assert_eq!(decode_query("%FF"), None);
    }
}
