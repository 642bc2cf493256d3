//! Service config from DNS (gRFC A2): the `_grpc_config.<host>` TXT record's
//! `grpc_config=` text is a JSON list of choices, and the first choice whose criteria all
//! match this client gives the service config. Pure code: the TXT strings, the host name
//! and a random percentile come in, the chosen config's JSON goes out.

use serde_json::{Map, Value};

/// The attribute a TXT record's text starts with (RFC 1464 form).
const ATTRIBUTE: &str = "grpc_config=";

/// The `clientLanguage` wirecall matches (case-insensitively, as A2 says).
const LANGUAGE: &str = "rust";

/// The fields a choice may have; any other makes the choice (so the whole list) invalid.
const CHOICE_FIELDS: [&str; 4] = [
    "clientLanguage",
    "percentage",
    "clientHostname",
    "serviceConfig",
];

/// What the TXT records say.
#[derive(Debug, PartialEq)]
pub(crate) enum Choice {
    /// No record carries `grpc_config=`, or no choice matches: no service config.
    None,
    /// The matching choice's `serviceConfig`, as JSON text.
    Config(String),
}

/// This client, as A2's criteria see it.
pub(crate) struct Client<'a> {
    /// The machine's host name (`clientHostname` is compared case-sensitively).
    pub(crate) hostname: &'a str,
    /// A number drawn uniformly from 0..100: a choice of `percentage` p matches when it is
    /// below p.
    pub(crate) percentile: u8,
}

/// Picks the service config from a name's TXT records, each given as its strings joined
/// (a record longer than 255 bytes comes in several strings, concatenated with no
/// separator). Only records starting with `grpc_config=` count; several of them are joined
/// in order. An unparsable list or choice is an error naming what is wrong.
pub(crate) fn choose(records: &[String], client: &Client<'_>) -> Result<Choice, String> {
    let text: String = records
        .iter()
        .filter_map(|r| r.strip_prefix(ATTRIBUTE))
        .collect();
    if text.is_empty() && !records.iter().any(|r| r.starts_with(ATTRIBUTE)) {
        return Ok(Choice::None);
    }
    let list: Value = serde_json::from_str(&text).map_err(|e| format!("grpc_config: {e}"))?;
    let Value::Array(choices) = list else {
        return Err("grpc_config: expected a JSON list of choices".to_owned());
    };
    let mut chosen = None;
    for (i, choice) in choices.iter().enumerate() {
        let path = format!("grpc_config[{i}]");
        let Value::Object(fields) = choice else {
            return Err(format!("{path}: expected an object"));
        };
        // Every choice is checked, even after a match: one bad choice voids the list.
        let matches = check(fields, &path, client)?;
        if matches && chosen.is_none() {
            chosen = Some(fields["serviceConfig"].to_string());
        }
    }
    Ok(chosen.map_or(Choice::None, Choice::Config))
}

/// Whether one choice's criteria all hold for `client`; an error if the choice is malformed.
fn check(fields: &Map<String, Value>, path: &str, client: &Client<'_>) -> Result<bool, String> {
    if let Some(unknown) = fields.keys().find(|k| !CHOICE_FIELDS.contains(&k.as_str())) {
        return Err(format!("{path}: unknown field {unknown:?}"));
    }
    match fields.get("serviceConfig") {
        Some(Value::Object(_)) => {}
        Some(_) => return Err(format!("{path}.serviceConfig: expected an object")),
        None => return Err(format!("{path}: no serviceConfig")),
    }
    let language = strings(fields, "clientLanguage", path)?;
    let hostname = strings(fields, "clientHostname", path)?;
    let percentage = match fields.get("percentage") {
        None => None,
        Some(value) => match value.as_u64() {
            Some(p) if p <= 100 => Some(p),
            _ => {
                return Err(format!(
                    "{path}.percentage: expected an integer from 0 to 100, got {value}"
                ))
            }
        },
    };
    let language_ok =
        language.is_empty() || language.iter().any(|l| l.eq_ignore_ascii_case(LANGUAGE));
    let hostname_ok = hostname.is_empty() || hostname.contains(&client.hostname);
    let percentage_ok = percentage.is_none_or(|p| u64::from(client.percentile) < p);
    Ok(language_ok && hostname_ok && percentage_ok)
}

/// A list-of-strings criterion (absent means empty, which matches everyone).
fn strings<'a>(
    fields: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Vec<&'a str>, String> {
    let Some(value) = fields.get(key) else {
        return Ok(Vec::new());
    };
    let wrong = || format!("{path}.{key}: expected a list of strings");
    value
        .as_array()
        .ok_or_else(wrong)?
        .iter()
        .map(|v| v.as_str().ok_or_else(wrong))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Client<'static> = Client {
        hostname: "pod-7",
        percentile: 42,
    };

    fn choose_one(record: &str) -> Result<Choice, String> {
        choose(&[record.to_owned()], &ME)
    }

    fn config(json: &str) -> Choice {
        let value: Value = serde_json::from_str(json).unwrap();
        Choice::Config(value.to_string())
    }

    #[test]
    fn no_grpc_config_record_means_no_config() {
        assert_eq!(choose(&[], &ME), Ok(Choice::None));
        assert_eq!(choose(&["v=spf1 -all".to_owned()], &ME), Ok(Choice::None));
    }

    #[test]
    fn the_first_matching_choice_wins() {
        let record = r#"grpc_config=[
            {"clientLanguage": ["go"], "serviceConfig": {"a": 1}},
            {"clientLanguage": ["c++", "RUST"], "serviceConfig": {"b": 2}},
            {"serviceConfig": {"c": 3}}]"#;
        assert_eq!(choose_one(record), Ok(config(r#"{"b": 2}"#)));
    }

    #[test]
    fn hostname_and_percentage_select() {
        let record = r#"grpc_config=[
            {"clientHostname": ["POD-7"], "serviceConfig": {"case": 1}},
            {"percentage": 42, "serviceConfig": {"below": 2}},
            {"percentage": 43, "clientHostname": ["pod-7"], "serviceConfig": {"hit": 3}}]"#;
        assert_eq!(choose_one(record), Ok(config(r#"{"hit": 3}"#)));
        let none = r#"grpc_config=[{"percentage": 0, "serviceConfig": {}}]"#;
        assert_eq!(choose_one(none), Ok(Choice::None));
        let all = r#"grpc_config=[{"percentage": 100, "clientLanguage": [], "serviceConfig": {}}]"#;
        let everyone = Client {
            hostname: "",
            percentile: 99,
        };
        assert_eq!(choose(&[all.to_owned()], &everyone), Ok(config("{}")));
    }

    #[test]
    fn split_records_are_joined_in_order() {
        let parts = [
            "grpc_config=[{\"serviceConfig\":".to_owned(),
            "other=1".to_owned(),
            "grpc_config={\"x\": [1, 2]}}]".to_owned(),
        ];
        assert_eq!(choose(&parts, &ME), Ok(config(r#"{"x": [1, 2]}"#)));
    }

    #[test]
    fn one_bad_choice_voids_the_list() {
        for (record, why) in [
            ("grpc_config=", "grpc_config: EOF"),
            ("grpc_config={}", "expected a JSON list"),
            ("grpc_config=[1]", "grpc_config[0]: expected an object"),
            (
                r#"grpc_config=[{"serviceConfig": {}}, {"serviceConfg": {}}]"#,
                "grpc_config[1]: unknown field \"serviceConfg\"",
            ),
            (r#"grpc_config=[{}]"#, "grpc_config[0]: no serviceConfig"),
            (
                r#"grpc_config=[{"serviceConfig": []}]"#,
                "serviceConfig: expected an object",
            ),
            (
                r#"grpc_config=[{"percentage": 101, "serviceConfig": {}}]"#,
                "percentage: expected an integer from 0 to 100, got 101",
            ),
            (
                r#"grpc_config=[{"percentage": 5.5, "serviceConfig": {}}]"#,
                "got 5.5",
            ),
            (
                r#"grpc_config=[{"clientLanguage": "rust", "serviceConfig": {}}]"#,
                "clientLanguage: expected a list of strings",
            ),
        ] {
            let err = choose_one(record).expect_err(record);
            assert!(err.contains(why), "{record}: {err}");
        }
    }
}
