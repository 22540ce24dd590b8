//! What a server says it can do (its CAPABILITY list).

use serde::Serialize;

/// Capabilities worth showing to an administrator, in display order.
pub const NOTABLE: &[&str] = &[
    "IMAP4rev1",
    "IMAP4rev2",
    "UIDPLUS",
    "CONDSTORE",
    "QRESYNC",
    "LITERAL+",
    "LITERAL-",
    "MULTIAPPEND",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "MOVE",
    "COMPRESS=DEFLATE",
    "APPENDLIMIT",
    "NAMESPACE",
    "ID",
    "ENABLE",
    "UTF8=ACCEPT",
    "IDLE",
    "BINARY",
    "QUOTA",
    "LIST-STATUS",
    "ESEARCH",
    "OBJECTID",
    "SASL-IR",
    "STARTTLS",
    "LOGINDISABLED",
];

/// A server's capability list, as sent (atoms, in order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Capabilities(Vec<String>);

impl Capabilities {
    /// Parses the atoms after `CAPABILITY` (in an untagged response or a
    /// `[CAPABILITY …]` response code).
    pub fn parse(atoms: &str) -> Self {
        Capabilities(atoms.split_ascii_whitespace().map(str::to_owned).collect())
    }

    /// Does the server offer `name` (case-insensitive; `APPENDLIMIT` also
    /// matches `APPENDLIMIT=…`)?
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|c| {
            c.eq_ignore_ascii_case(name)
                || (c.len() > name.len()
                    && c.as_bytes()[name.len()] == b'='
                    && c[..name.len()].eq_ignore_ascii_case(name)
                    && !name.contains('='))
        })
    }

    /// The SASL mechanisms offered (`AUTH=PLAIN` → `PLAIN`), uppercase.
    pub fn auth_mechanisms(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|c| {
                let upper = c.to_ascii_uppercase();
                upper.strip_prefix("AUTH=").map(str::to_owned)
            })
            .collect()
    }

    /// Does the server offer this SASL mechanism?
    pub fn has_auth(&self, mechanism: &str) -> bool {
        self.auth_mechanisms()
            .iter()
            .any(|m| m.eq_ignore_ascii_case(mechanism))
    }

    /// The largest message the server accepts, when it says (RFC 7889).
    pub fn append_limit(&self) -> Option<u64> {
        self.0.iter().find_map(|c| {
            let (name, value) = c.split_once('=')?;
            name.eq_ignore_ascii_case("APPENDLIMIT")
                .then(|| value.parse().ok())
                .flatten()
        })
    }

    /// The notable capabilities present, in display order, as the server
    /// spelled them.
    pub fn notable(&self) -> Vec<&str> {
        NOTABLE
            .iter()
            .filter_map(|n| {
                self.0.iter().find(|c| {
                    c.eq_ignore_ascii_case(n)
                        || (c.len() > n.len()
                            && c[..n.len()].eq_ignore_ascii_case(n)
                            && c.as_bytes()[n.len()] == b'=')
                })
            })
            .map(String::as_str)
            .collect()
    }

    /// All atoms as sent.
    pub fn all(&self) -> &[String] {
        &self.0
    }

    /// Is the list empty (not yet known)?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dovecot_capabilities() {
        let caps = Capabilities::parse(
            "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN APPENDLIMIT=35651584",
        );
        assert!(caps.has("imap4rev1"));
        assert!(caps.has("LITERAL+"));
        assert!(caps.has("APPENDLIMIT"));
        assert!(!caps.has("UIDPLUS"));
        assert!(caps.has_auth("plain"));
        assert_eq!(caps.auth_mechanisms(), vec!["PLAIN", "LOGIN"]);
        assert_eq!(caps.append_limit(), Some(35_651_584));
        assert_eq!(
            caps.notable(),
            vec![
                "IMAP4rev1",
                "LITERAL+",
                "APPENDLIMIT=35651584",
                "ID",
                "ENABLE",
                "IDLE",
                "SASL-IR",
                "STARTTLS"
            ]
        );
    }
}
