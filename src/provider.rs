//! Known mail providers: recognising them from a host name and reading
//! their refusal texts.
//!
//! Each fact here is backed by a line in `docs/provider-quirks.md` and a
//! unit test below. The texts are what the servers really send; matching is
//! case-insensitive and on fragments, because providers vary the wording
//! slightly over the years.

use serde::{Deserialize, Serialize};

/// A provider with behaviour worth knowing about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    /// Gmail and Google Workspace.
    Google,
    /// Microsoft 365, Exchange Online and Outlook.com.
    Microsoft,
    /// Yahoo Mail (and AOL, which runs on the same servers).
    Yahoo,
    /// iCloud Mail.
    ICloud,
    /// Fastmail.
    Fastmail,
    /// Zoho Mail.
    Zoho,
    /// Anything else.
    Other,
}

impl Provider {
    /// Guesses the provider from the IMAP host name.
    pub fn from_host(host: &str) -> Provider {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ends = |suffix: &str| host == suffix || host.ends_with(&format!(".{suffix}"));
        if ends("gmail.com") || ends("googlemail.com") || ends("google.com") {
            Provider::Google
        } else if ends("office365.com")
            || ends("outlook.com")
            || ends("office.com")
            || ends("hotmail.com")
            || ends("live.com")
        {
            Provider::Microsoft
        } else if ends("yahoo.com") || ends("aol.com") {
            Provider::Yahoo
        } else if ends("me.com") || ends("icloud.com") {
            Provider::ICloud
        } else if ends("fastmail.com") || ends("messagingengine.com") {
            Provider::Fastmail
        } else if host.starts_with("imap.zoho") || host.contains(".zoho.") {
            Provider::Zoho
        } else {
            Provider::Other
        }
    }

    /// The name a user knows the provider by.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Google => "Gmail",
            Provider::Microsoft => "Microsoft 365",
            Provider::Yahoo => "Yahoo",
            Provider::ICloud => "iCloud",
            Provider::Fastmail => "Fastmail",
            Provider::Zoho => "Zoho",
            Provider::Other => "The mail server",
        }
    }

    /// Where the user can create an app password, if the provider has them.
    pub fn app_password_page(self) -> Option<&'static str> {
        match self {
            Provider::Google => Some("https://myaccount.google.com/apppasswords"),
            Provider::Yahoo => Some("https://login.yahoo.com/account/security"),
            Provider::ICloud => Some("https://account.apple.com"),
            Provider::Fastmail => Some("https://app.fastmail.com/settings/security/apppasswords"),
            Provider::Zoho => Some("https://accounts.zoho.com/home#security/app_password"),
            Provider::Microsoft | Provider::Other => None,
        }
    }
}

/// What a refusal to sign in means, read from the server's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInRefusal {
    /// Wrong user name or password (or the provider gives no more detail).
    WrongPassword,
    /// 2-step verification is on: an app password (or OAuth) is needed.
    AppPasswordRequired,
    /// The provider wants the user to sign in through its web page first.
    WebLoginRequired,
    /// Password sign-in for mail apps is switched off (Microsoft 365).
    BasicAuthDisabled,
    /// IMAP is switched off for this account or organisation.
    ImapDisabled,
    /// Too many connections or requests right now.
    Busy,
    /// The access token has expired or was revoked.
    TokenExpired,
    /// The access token lacks the mail scope.
    TokenScope,
    /// The access token was refused without a reason.
    TokenRejected,
    /// An administrator must consent to the application first.
    AdminConsentRequired,
}

/// The JSON error a server sends as its last SASL challenge when it refuses
/// an access token (RFC 7628 §3.2.2; Gmail sends the same for XOAUTH2):
/// `{"status":"invalid_token","scope":"…","schemes":"bearer"}`. Gmail
/// writes HTTP codes as the status (`"401"`, `"400"`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct OAuthChallenge {
    /// `invalid_token`, `insufficient_scope`, `invalid_request`, or an
    /// HTTP status code.
    pub status: String,
    /// The scope the server wants.
    #[serde(default)]
    pub scope: Option<String>,
    /// The authentication schemes the server takes (`bearer`).
    #[serde(default)]
    pub schemes: Option<String>,
}

impl OAuthChallenge {
    /// Reads a decoded challenge; `None` when it is not such a JSON object.
    pub fn parse(challenge: &[u8]) -> Option<OAuthChallenge> {
        serde_json::from_slice(challenge).ok()
    }
}

/// Reads a refused OAuth sign-in: the server's final text (`text`, as for
/// [`classify_sign_in_refusal`]) and its error challenge, if it sent one.
pub fn classify_token_refusal(
    provider: Provider,
    challenge: Option<&OAuthChallenge>,
    text: &str,
) -> SignInRefusal {
    let refusal = classify_sign_in_refusal(provider, text);
    if matches!(refusal, SignInRefusal::ImapDisabled | SignInRefusal::Busy) {
        return refusal;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("aadsts65001") || lower.contains("admin consent") {
        return SignInRefusal::AdminConsentRequired;
    }
    match challenge.map(|c| c.status.to_ascii_lowercase()).as_deref() {
        Some("invalid_token" | "401") => SignInRefusal::TokenExpired,
        Some("insufficient_scope" | "403") => SignInRefusal::TokenScope,
        _ => SignInRefusal::TokenRejected,
    }
}

/// Reads a tagged `NO`/`BAD` reply (or a `BYE`) to LOGIN or AUTHENTICATE.
/// `text` is everything after the status word, response code included.
pub fn classify_sign_in_refusal(provider: Provider, text: &str) -> SignInRefusal {
    let t = text.to_ascii_lowercase();
    let has = |needle: &str| t.contains(needle);
    if has("application-specific password") || has("app password") {
        SignInRefusal::AppPasswordRequired
    } else if has("log in via your web browser") || has("web login required") {
        SignInRefusal::WebLoginRequired
    } else if has("not enabled for imap")
        || has("imap access is disabled")
        || has("imap use is disabled")
        || has("user is authenticated but not connected")
    {
        SignInRefusal::ImapDisabled
    } else if has("[unavailable]")
        || has("[limit]")
        || has("too many simultaneous")
        || has("too many connections")
        || has("request is throttled")
        || has("[inuse]")
    {
        SignInRefusal::Busy
    } else if provider == Provider::Microsoft
        && (has("authenticate failed") || has("login failed"))
        && !has("[authenticationfailed]")
    {
        // Exchange Online answers exactly this when basic authentication is
        // switched off for the tenant or the user; it says the same for a
        // wrong password, so the message covers both.
        SignInRefusal::BasicAuthDisabled
    } else {
        SignInRefusal::WrongPassword
    }
}

/// The longest a server's own back-off hint makes MailFerry wait at once:
/// a hint is the server's words, and words like "99999999999 milliseconds"
/// must not park a run for years. A server still throttling after that
/// says so again, and the wait starts over.
pub const MAX_SUGGESTED_BACKOFF_SECS: u64 = 15 * 60;

/// Reads a throttling reply for the wait it asks for, in seconds, at most
/// [`MAX_SUGGESTED_BACKOFF_SECS`] (a number too long for any integer is
/// that too).
/// Microsoft: `Request is throttled. Suggested Backoff Time: 300000 milliseconds`.
pub fn suggested_backoff_secs(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let rest = &lower[lower.find("backoff time:")? + "backoff time:".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    if digits.is_empty() {
        return None;
    }
    let ms: u64 = digits.parse().unwrap_or(u64::MAX);
    Some(ms.div_ceil(1000).min(MAX_SUGGESTED_BACKOFF_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_recognised() {
        assert_eq!(Provider::from_host("imap.gmail.com"), Provider::Google);
        assert_eq!(Provider::from_host("IMAP.GMAIL.COM."), Provider::Google);
        assert_eq!(
            Provider::from_host("outlook.office365.com"),
            Provider::Microsoft
        );
        assert_eq!(
            Provider::from_host("imap-mail.outlook.com"),
            Provider::Microsoft
        );
        assert_eq!(Provider::from_host("imap.mail.yahoo.com"), Provider::Yahoo);
        assert_eq!(Provider::from_host("imap.mail.me.com"), Provider::ICloud);
        assert_eq!(Provider::from_host("imap.fastmail.com"), Provider::Fastmail);
        assert_eq!(Provider::from_host("imap.zoho.eu"), Provider::Zoho);
        assert_eq!(Provider::from_host("notgmail.com"), Provider::Other);
        assert_eq!(Provider::from_host("127.0.0.1"), Provider::Other);
    }

    #[test]
    fn real_refusal_texts_are_read() {
        use SignInRefusal::*;
        let g = Provider::Google;
        let m = Provider::Microsoft;
        let cases = [
            (g, "[ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)", AppPasswordRequired),
            (g, "[ALERT] Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)", WebLoginRequired),
            (g, "[ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page and enable your account for IMAP access. (Failure)", ImapDisabled),
            (g, "[AUTHENTICATIONFAILED] Invalid credentials (Failure)", WrongPassword),
            (m, "AUTHENTICATE failed.", BasicAuthDisabled),
            (m, "LOGIN failed.", BasicAuthDisabled),
            (m, "User is authenticated but not connected.", ImapDisabled),
            (m, "Request is throttled. Suggested Backoff Time: 300000 milliseconds", Busy),
            (Provider::Yahoo, "[AUTHENTICATIONFAILED] LOGIN Invalid credentials", WrongPassword),
            (Provider::Other, "[AUTHENTICATIONFAILED] Authentication failed.", WrongPassword),
            (Provider::Other, "[UNAVAILABLE] Temporary authentication failure.", Busy),
            (g, "Too many simultaneous connections. (Failure)", Busy),
        ];
        for (provider, text, expected) in cases {
            assert_eq!(classify_sign_in_refusal(provider, text), expected, "{text}");
        }
    }

    #[test]
    fn token_refusals_are_read() {
        use SignInRefusal::*;
        let challenge = |json: &str| OAuthChallenge::parse(json.as_bytes()).unwrap();
        let g = Provider::Google;
        // Gmail's XOAUTH2 error challenge for an expired token.
        let gmail =
            challenge(r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#);
        assert_eq!(gmail.scope.as_deref(), Some("https://mail.google.com/"));
        let cases = [
            (
                Some(gmail),
                "[AUTHENTICATIONFAILED] Invalid credentials (Failure)",
                TokenExpired,
            ),
            (
                Some(challenge(
                    r#"{"status":"invalid_token","schemes":"bearer","scope":"mail"}"#,
                )),
                "[AUTHENTICATIONFAILED] Authentication failed.",
                TokenExpired,
            ),
            (
                Some(challenge(
                    r#"{"status":"insufficient_scope","scope":"mail"}"#,
                )),
                "Authentication failed.",
                TokenScope,
            ),
            (Some(challenge(r#"{"status":"403"}"#)), "", TokenScope),
            (
                Some(challenge(r#"{"status":"400","schemes":"Bearer"}"#)),
                "",
                TokenRejected,
            ),
            // Exchange Online sends no challenge, only this.
            (None, "AUTHENTICATE failed.", TokenRejected),
            (
                None,
                "User is authenticated but not connected.",
                ImapDisabled,
            ),
            (
                None,
                "Request is throttled. Suggested Backoff Time: 300000 milliseconds",
                Busy,
            ),
        ];
        for (c, text, expected) in cases {
            let provider = if text.contains("AUTHENTICATE") || text.contains("User is") {
                Provider::Microsoft
            } else {
                g
            };
            assert_eq!(
                classify_token_refusal(provider, c.as_ref(), text),
                expected,
                "{text}"
            );
        }
        assert_eq!(OAuthChallenge::parse(b"not json"), None);
    }

    #[test]
    fn backoff_is_read_in_seconds() {
        assert_eq!(
            suggested_backoff_secs(
                "Request is throttled. Suggested Backoff Time: 300000 milliseconds"
            ),
            Some(300)
        );
        assert_eq!(suggested_backoff_secs("LOGIN failed."), None);
        assert_eq!(suggested_backoff_secs("Suggested Backoff Time: soon"), None);
    }

    #[test]
    fn backoff_hints_are_bounded() {
        for huge in [
            "Request is throttled. Suggested Backoff Time: 99999999999 milliseconds",
            "Suggested Backoff Time: 18446744073709551615 milliseconds",
            "Suggested Backoff Time: 99999999999999999999999999999999 milliseconds",
        ] {
            let secs = suggested_backoff_secs(huge).expect(huge);
            assert_eq!(secs, MAX_SUGGESTED_BACKOFF_SECS, "{huge}");
            // What the copy then adds to it cannot overflow either.
            assert!(secs.checked_add(1).is_some());
        }
        assert_eq!(
            suggested_backoff_secs("Suggested Backoff Time: 900001 milliseconds"),
            Some(MAX_SUGGESTED_BACKOFF_SECS)
        );
    }
}
