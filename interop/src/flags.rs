//! The interop binaries' flags, spelled as the official ones are: `--name=value`,
//! `--name value`, and bare `--name` for a true boolean.

use std::collections::HashMap;

/// Parsed `--flag` values.
#[derive(Debug, Default)]
pub struct Flags(HashMap<String, String>);

impl Flags {
    /// Parses the process arguments.
    pub fn from_env() -> Flags {
        Flags::parse(std::env::args().skip(1))
    }

    /// Parses `args`.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Flags {
        let mut map = HashMap::new();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else {
                continue;
            };
            if let Some((name, value)) = name.split_once('=') {
                map.insert(name.to_owned(), value.to_owned());
            } else if args.peek().is_some_and(|next| !next.starts_with("--")) {
                map.insert(name.to_owned(), args.next().unwrap_or_default());
            } else {
                map.insert(name.to_owned(), "true".to_owned());
            }
        }
        Flags(map)
    }

    /// A string flag.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A boolean flag: `true`, `1` or bare.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    /// The directory with the shared test certificates (`$INTEROP_CERTS_DIR`, else
    /// `target/interop-peers/certs` where `scripts/setup-interop.sh` puts them).
    pub fn certs_dir(&self) -> std::path::PathBuf {
        std::env::var_os("INTEROP_CERTS_DIR")
            .map(Into::into)
            .unwrap_or_else(|| "target/interop-peers/certs".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_spellings() {
        let f = Flags::parse(
            [
                "--port=8080",
                "--use_tls",
                "--test_case",
                "large_unary",
                "--use_test_ca=false",
            ]
            .map(String::from),
        );
        assert_eq!(f.get("port"), Some("8080"));
        assert!(f.bool("use_tls"));
        assert_eq!(f.get("test_case"), Some("large_unary"));
        assert!(!f.bool("use_test_ca"));
        assert!(!f.bool("missing"));
    }
}
