//! Provider presets as data: where each provider's IMAP server is, how many
//! connections and how much traffic it tolerates, the largest message it
//! takes — and the duration estimate those limits imply.
//!
//! The numbers come from `../shared/PROVIDERS.md` (providers' own pages as
//! quoted by imapsync's FAQ and migration vendors); several are
//! low-confidence, so every one is a default the user can change.
//! Pure data and arithmetic: no I/O, no clock.

use crate::endpoint::Security;
use crate::provider::Provider;
use serde::Serialize;

/// What MailFerry knows about one kind of server: the wizard's tile (what
/// picking it fills in and how the user signs in), and the limits the copy
/// keeps to. The one table: the command line, the copy and the desktop app
/// (which sends it to its window as it is) all read it from here.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Preset {
    /// Stable identifier, the wizard's tile id (`gmail`, `microsoft`, …,
    /// `other`); saved with a job, so never renamed.
    pub id: &'static str,
    /// The name users know (what the tile says).
    pub name: &'static str,
    /// The provider, for reading its refusal texts.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub provider: Provider,
    /// IMAP server name; `None` when each customer has their own (the user
    /// types it).
    pub host: Option<&'static str>,
    /// Port.
    pub port: u16,
    /// Security.
    pub security: Security,
    /// A hint for the server-name field when the user types it.
    pub host_hint: &'static str,
    /// How the user signs in, in a sentence.
    pub sign_in: &'static str,
    /// The issuer a browser sign-in goes to (`google`, `microsoft`, as
    /// [`crate::auth::oauth::Issuer::from_name`] reads it), when the
    /// provider offers one.
    pub browser_sign_in: Option<&'static str>,
    /// The provider's page for creating an app password.
    pub app_password_url: Option<&'static str>,
    /// The limits below in words (shown with the estimate); empty when
    /// none is known.
    pub limits: String,
    /// Simultaneous IMAP connections per account the provider tolerates.
    pub max_connections: u32,
    /// The largest message the server accepts, in bytes.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub max_message_bytes: Option<u64>,
    /// How much an account may download per day (reading the source).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub download_bytes_per_day: Option<u64>,
    /// How much an account may upload per day (writing the destination).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub upload_bytes_per_day: Option<u64>,
    /// How many messages a mailbox may receive per hour.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub messages_per_hour: Option<u64>,
    /// A polite message rate per second (what migration tools use).
    pub messages_per_second: Option<f64>,
}

const MB: u64 = 1_000_000;

/// The hint for a server name the user types.
const OWN_HOST_HINT: &str = "often imap.yourdomain.com or mail.yourdomain.com";

/// A preset with the usual IMAP settings (TLS on 993), signing in with an
/// app password, and no known limits.
fn base(
    id: &'static str,
    name: &'static str,
    provider: Provider,
    host: Option<&'static str>,
    max_connections: u32,
) -> Preset {
    Preset {
        id,
        name,
        provider,
        host,
        port: 993,
        security: Security::Tls,
        host_hint: if host.is_some() { "" } else { OWN_HOST_HINT },
        sign_in: "Use the mailbox's password, or an app password if the provider has them.",
        browser_sign_in: None,
        app_password_url: None,
        limits: String::new(),
        max_connections,
        max_message_bytes: None,
        download_bytes_per_day: None,
        upload_bytes_per_day: None,
        messages_per_hour: None,
        messages_per_second: None,
    }
}

/// Every preset, in the order the wizard shows them (UX.md's tiles).
pub fn all() -> Vec<Preset> {
    vec![
        Preset {
            sign_in: "Use an app password (Google account → Security → 2-Step Verification → App passwords).",
            browser_sign_in: Some("google"),
            app_password_url: Some("https://myaccount.google.com/apppasswords"),
            max_message_bytes: Some(35_651_584),
            download_bytes_per_day: Some(2_500 * MB),
            upload_bytes_per_day: Some(500 * MB),
            ..base(
                "gmail",
                "Gmail / Google Workspace",
                Provider::Google,
                Some("imap.gmail.com"),
                15,
            )
        },
        Preset {
            sign_in: "Microsoft 365 usually needs \"Sign in with Microsoft\" in your browser; some accounts still allow an app password.",
            browser_sign_in: Some("microsoft"),
            max_message_bytes: Some(35 * MB),
            messages_per_hour: Some(3_600),
            messages_per_second: Some(4.0),
            ..base(
                "microsoft",
                "Microsoft 365 / Outlook.com",
                Provider::Microsoft,
                Some("outlook.office365.com"),
                16,
            )
        },
        Preset {
            sign_in: "Use an app password from Yahoo's account security page.",
            app_password_url: Some("https://login.yahoo.com/account/security"),
            ..base(
                "yahoo",
                "Yahoo",
                Provider::Yahoo,
                Some("imap.mail.yahoo.com"),
                10,
            )
        },
        Preset {
            sign_in: "Use an app-specific password from your Apple account page.",
            app_password_url: Some("https://account.apple.com"),
            ..base(
                "icloud",
                "iCloud",
                Provider::ICloud,
                Some("imap.mail.me.com"),
                5,
            )
        },
        Preset {
            sign_in: "Use an app password from Fastmail's settings.",
            app_password_url: Some("https://app.fastmail.com/settings/security/apppasswords"),
            ..base(
                "fastmail",
                "Fastmail",
                Provider::Fastmail,
                Some("imap.fastmail.com"),
                10,
            )
        },
        Preset {
            sign_in: "Use an app password from Zoho's security settings.",
            app_password_url: Some("https://accounts.zoho.com/home#security/app_password"),
            ..base(
                "zoho",
                "Zoho",
                Provider::Zoho,
                Some("imap.zoho.com"),
                10,
            )
        },
        Preset {
            sign_in: "Use the mailbox's own password, as in your mail app.",
            ..base(
                "hosting",
                "cPanel or other hosting",
                Provider::Other,
                None,
                20,
            )
        },
        generic(),
    ]
    .into_iter()
    .map(|mut p| {
        p.limits = limit_words(&p);
        p
    })
    .collect()
}

fn generic() -> Preset {
    base("other", "Other IMAP server", Provider::Other, None, 10)
}

/// The preset with this id.
pub fn by_id(id: &str) -> Option<Preset> {
    all().into_iter().find(|p| p.id == id)
}

/// The preset for a server name (the generic one when unknown).
pub fn for_host(host: &str) -> Preset {
    let provider = Provider::from_host(host);
    all()
        .into_iter()
        .find(|p| p.provider == provider && provider != Provider::Other)
        .unwrap_or_else(generic)
}

/// The address domains each provider gives its users, by preset id
/// (`anna@gmail.com` is a Gmail account). A custom domain is recognised by
/// its mail records instead (see `discover`).
const ADDRESS_DOMAINS: &[(&str, &str)] = &[
    ("gmail.com", "gmail"),
    ("googlemail.com", "gmail"),
    ("outlook.com", "microsoft"),
    ("hotmail.com", "microsoft"),
    ("hotmail.co.uk", "microsoft"),
    ("live.com", "microsoft"),
    ("msn.com", "microsoft"),
    ("yahoo.com", "yahoo"),
    ("yahoo.co.uk", "yahoo"),
    ("ymail.com", "yahoo"),
    ("rocketmail.com", "yahoo"),
    ("aol.com", "yahoo"),
    ("icloud.com", "icloud"),
    ("me.com", "icloud"),
    ("mac.com", "icloud"),
    ("fastmail.com", "fastmail"),
    ("fastmail.fm", "fastmail"),
    ("zoho.com", "zoho"),
    ("zohomail.com", "zoho"),
];

/// The preset of a provider's own address domain (`gmail.com`,
/// `outlook.com`, …), when it is one.
pub fn for_domain(domain: &str) -> Option<Preset> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    ADDRESS_DOMAINS
        .iter()
        .find(|(d, _)| *d == domain)
        .and_then(|(_, id)| by_id(id))
}

/// The preset the user picked (`id`, a tile id), else the one its server
/// name suggests.
pub fn chosen(id: Option<&str>, host: &str) -> Preset {
    id.and_then(by_id).unwrap_or_else(|| for_host(host))
}

/// A preset's daily and hourly limits in a sentence each.
fn limit_words(p: &Preset) -> String {
    let who = short_name(p);
    let mut words = Vec::new();
    if let Some(per_day) = p.download_bytes_per_day {
        words.push(format!(
            "{who} lets an account download about {} a day over IMAP.",
            human_size(per_day)
        ));
    }
    if let Some(per_day) = p.upload_bytes_per_day {
        words.push(format!(
            "{who} accepts about {} of uploads a day.",
            human_size(per_day)
        ));
    }
    if let Some(per_hour) = p.messages_per_hour {
        words.push(format!(
            "{who} accepts about {} messages an hour per mailbox.",
            thousands(per_hour)
        ));
    }
    words.join(" ")
}

/// How long a copy is likely to take, and what limits it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Estimate {
    /// Seconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seconds: u64,
    /// The limit that decides it, in plain words.
    pub limited_by: String,
    /// The whole estimate in one sentence.
    pub words: String,
}

/// What MailFerry itself manages on an open road (a conservative figure:
/// one connection per side to a nearby server).
pub const OPEN_ROAD_BYTES_PER_SECOND: u64 = 5 * MB;

const CONNECTION: &str = "the speed of the connection";

/// Estimates the copy of `messages` totalling `bytes` from a server like
/// `source` to one like `dest`.
pub fn estimate(messages: u64, bytes: u64, source: &Preset, dest: &Preset) -> Estimate {
    let mut limits: Vec<(f64, String)> = vec![(
        bytes as f64 / OPEN_ROAD_BYTES_PER_SECOND as f64,
        CONNECTION.to_owned(),
    )];
    if let Some(per_day) = source.download_bytes_per_day {
        limits.push((
            bytes as f64 / per_day as f64 * 86_400.0,
            format!(
                "{} allows about {} of downloads a day",
                short_name(source),
                human_size(per_day)
            ),
        ));
    }
    if let Some(per_day) = dest.upload_bytes_per_day {
        limits.push((
            bytes as f64 / per_day as f64 * 86_400.0,
            format!(
                "{} accepts about {} of uploads a day",
                short_name(dest),
                human_size(per_day)
            ),
        ));
    }
    if let Some(per_hour) = dest.messages_per_hour {
        limits.push((
            messages as f64 / per_hour as f64 * 3_600.0,
            format!(
                "{} accepts about {} messages an hour",
                short_name(dest),
                thousands(per_hour)
            ),
        ));
    }
    for (preset, side) in [(source, "reads"), (dest, "writes")] {
        if let Some(rate) = preset.messages_per_second {
            limits.push((
                messages as f64 / rate,
                format!(
                    "{} {side} about {rate} messages a second",
                    short_name(preset)
                ),
            ));
        }
    }
    let (seconds, limited_by) = limits
        .into_iter()
        .fold((0.0, String::new()), |best, (s, why)| {
            if s > best.0 {
                (s, why)
            } else {
                best
            }
        });
    let seconds = seconds.ceil() as u64;
    let words = if seconds < 60 {
        "Less than a minute.".to_owned()
    } else if limited_by == CONNECTION {
        format!("About {}.", crate::error::human_duration(seconds))
    } else {
        format!(
            "About {}: {limited_by}.",
            crate::error::human_duration(seconds)
        )
    };
    Estimate {
        seconds,
        limited_by,
        words,
    }
}

fn short_name(p: &Preset) -> &'static str {
    match p.provider {
        Provider::Other => "the server",
        other => other.display_name(),
    }
}

/// Bytes as users say them: "500 MB", "2.5 GB".
pub fn human_size(bytes: u64) -> String {
    if bytes >= 1_000 * MB {
        let gb = bytes as f64 / (1_000 * MB) as f64;
        if gb.fract() == 0.0 {
            format!("{gb:.0} GB")
        } else {
            format!("{gb:.1} GB")
        }
    } else {
        format!("{} MB", bytes.div_ceil(MB))
    }
}

/// `n` with thousands separators (`14,212`), as people read counts.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_find_their_preset() {
        assert_eq!(for_host("imap.gmail.com").id, "gmail");
        assert_eq!(for_host("outlook.office365.com").id, "microsoft");
        assert_eq!(for_host("mail.example.com").id, "other");
        assert!(by_id("icloud").is_some_and(|p| p.max_connections == 5));
    }

    #[test]
    fn address_domains_find_their_preset() {
        assert_eq!(for_domain("gmail.com").map(|p| p.id), Some("gmail"));
        assert_eq!(for_domain("Hotmail.com.").map(|p| p.id), Some("microsoft"));
        assert_eq!(for_domain("me.com").map(|p| p.id), Some("icloud"));
        assert_eq!(for_domain("bakery.example").map(|p| p.id), None);
        for (_, id) in ADDRESS_DOMAINS {
            assert!(by_id(id).is_some(), "{id} is a tile id");
        }
    }

    #[test]
    fn the_tiles_are_the_ones_ux_md_lists_with_their_saved_ids() {
        // Saved jobs hold these ids: renaming one loses the user's choice.
        let ids: Vec<_> = all().iter().map(|p| p.id).collect();
        assert_eq!(
            ids,
            [
                "gmail",
                "microsoft",
                "yahoo",
                "icloud",
                "fastmail",
                "zoho",
                "hosting",
                "other"
            ]
        );
        assert_eq!(chosen(Some("microsoft"), "").provider, Provider::Microsoft);
        assert_eq!(chosen(None, "imap.gmail.com").id, "gmail");
        assert_eq!(chosen(Some("no-such-tile"), "mail.example.com").id, "other");
    }

    #[test]
    fn limits_are_said_from_the_numbers() {
        assert_eq!(
            by_id("microsoft").unwrap().limits,
            "Microsoft 365 accepts about 3,600 messages an hour per mailbox."
        );
        assert_eq!(
            by_id("gmail").unwrap().limits,
            "Gmail lets an account download about 2.5 GB a day over IMAP. \
             Gmail accepts about 500 MB of uploads a day."
        );
        assert_eq!(by_id("icloud").unwrap().limits, "");
    }

    #[test]
    fn gmail_uploads_decide_a_big_move_to_gmail() {
        let e = estimate(
            100_000,
            8_000 * MB,
            &for_host("mail.example.com"),
            &for_host("imap.gmail.com"),
        );
        assert_eq!(e.seconds, 16 * 86_400, "8 GB at 500 MB a day");
        assert_eq!(
            e.words,
            "About 16 days: Gmail accepts about 500 MB of uploads a day."
        );
    }

    #[test]
    fn gmail_downloads_decide_a_move_away_from_gmail() {
        let e = estimate(
            20_000,
            10_000 * MB,
            &for_host("imap.gmail.com"),
            &for_host("mail.example.com"),
        );
        assert_eq!(e.seconds, 4 * 86_400);
        assert!(
            e.words
                .contains("Gmail allows about 2.5 GB of downloads a day"),
            "{}",
            e.words
        );
    }

    #[test]
    fn microsoft_message_rate_decides_many_small_messages() {
        let e = estimate(
            36_000,
            500 * MB,
            &for_host("mail.example.com"),
            &for_host("outlook.office365.com"),
        );
        assert_eq!(e.seconds, 10 * 3_600);
        assert_eq!(
            e.words,
            "About 10 hours: Microsoft 365 accepts about 3,600 messages an hour."
        );
    }

    #[test]
    fn an_open_road_is_quick() {
        let e = estimate(100, 50 * MB, &generic(), &generic());
        assert_eq!(e.words, "Less than a minute.");
        let e = estimate(10_000, 3_000 * MB, &generic(), &generic());
        assert_eq!(e.words, "About 10 minutes.");
    }
}
