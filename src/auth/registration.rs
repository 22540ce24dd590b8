//! MailFerry's own registrations with Google and Microsoft for browser
//! sign-in, one per provider and never shared: a Google client ID is only
//! ever sent to Google, a Microsoft one only to Microsoft.
//!
//! A release build carries the project's registrations, compiled in from
//! the build's environment (`MAILFERRY_GOOGLE_CLIENT_ID`,
//! `MAILFERRY_GOOGLE_CLIENT_SECRET`, `MAILFERRY_MICROSOFT_CLIENT_ID`; the
//! release workflow sets them from repository variables: they are public
//! values, RFC 8252 §8.5). The same variables at run time override them for
//! the command line, and the desktop app lets the user enter their
//! organisation's own per provider. A build from source without them
//! offers browser sign-in only with a registration the user gives, and says
//! so ([`Registrations::missing_words`]). How the registrations are made:
//! `docs/oauth.md`.

use crate::auth::oauth::Client;
use crate::provider::Provider;

/// One provider's registration as the build's or the run's environment
/// names it.
struct Names {
    provider: Provider,
    id: &'static str,
    secret: &'static str,
}

/// The environment variables of each provider's registration.
const NAMES: [Names; 2] = [
    Names {
        provider: Provider::Google,
        id: "MAILFERRY_GOOGLE_CLIENT_ID",
        secret: "MAILFERRY_GOOGLE_CLIENT_SECRET",
    },
    Names {
        provider: Provider::Microsoft,
        id: "MAILFERRY_MICROSOFT_CLIENT_ID",
        secret: "MAILFERRY_MICROSOFT_CLIENT_SECRET",
    },
];

/// The registrations compiled into this build (see the module's words).
const COMPILED: [(Option<&str>, Option<&str>); 2] = [
    (
        option_env!("MAILFERRY_GOOGLE_CLIENT_ID"),
        option_env!("MAILFERRY_GOOGLE_CLIENT_SECRET"),
    ),
    (
        option_env!("MAILFERRY_MICROSOFT_CLIENT_ID"),
        option_env!("MAILFERRY_MICROSOFT_CLIENT_SECRET"),
    ),
];

/// Browser sign-in registrations, at most one per provider.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registrations {
    google: Option<Client>,
    microsoft: Option<Client>,
}

impl Registrations {
    /// The registrations this build carries.
    pub fn built_in() -> Registrations {
        let mut out = Registrations::default();
        for (names, (id, secret)) in NAMES.iter().zip(COMPILED) {
            out.set(names.provider, client(id, secret));
        }
        out
    }

    /// This build's, each replaced by the one the run's environment names
    /// (the command line's way to use an organisation's own).
    pub fn current() -> Registrations {
        Registrations::built_in().overridden_by(|name| std::env::var(name).ok())
    }

    /// These registrations, each replaced where `var` names another.
    pub fn overridden_by(mut self, var: impl Fn(&str) -> Option<String>) -> Registrations {
        for names in &NAMES {
            let id = var(names.id);
            let secret = var(names.secret);
            if let Some(chosen) = client(id.as_deref(), secret.as_deref()) {
                self.set(names.provider, Some(chosen));
            }
        }
        self
    }

    /// The registration with `provider`, if there is one.
    pub fn get(&self, provider: Provider) -> Option<&Client> {
        match provider {
            Provider::Google => self.google.as_ref(),
            Provider::Microsoft => self.microsoft.as_ref(),
            _ => None,
        }
    }

    /// Sets (or with `None` removes) the registration with `provider`;
    /// providers without browser sign-in have none and are left alone.
    pub fn set(&mut self, provider: Provider, client: Option<Client>) {
        match provider {
            Provider::Google => self.google = client,
            Provider::Microsoft => self.microsoft = client,
            _ => {}
        }
    }

    /// The providers with a registration.
    pub fn providers(&self) -> Vec<Provider> {
        NAMES
            .iter()
            .map(|n| n.provider)
            .filter(|p| self.get(*p).is_some())
            .collect()
    }

    /// Why browser sign-in with `provider` is not offered, and what to do,
    /// in plain words (for a build without MailFerry's own registration).
    pub fn missing_words(provider: Provider) -> String {
        let names = NAMES.iter().find(|n| n.provider == provider);
        let variable = names
            .map(|n| format!(" (on the command line: {})", n.id))
            .unwrap_or_default();
        format!(
            "This copy of MailFerry was built without its own registration with {}, which browser \
             sign-in needs. Use an app password, or your organisation's own registration{variable}; \
             docs/oauth.md says how to make one.",
            match provider {
                Provider::Google => "Google",
                Provider::Microsoft => "Microsoft",
                other => other.display_name(),
            }
        )
    }
}

/// A registration from its two values; an empty or missing ID is none, an
/// empty secret is no secret.
fn client(id: Option<&str>, secret: Option<&str>) -> Option<Client> {
    let id = id.map(str::trim).filter(|id| !id.is_empty())?;
    Some(Client {
        id: id.to_owned(),
        secret: secret
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn each_provider_has_its_own_registration_and_none_is_shared() {
        let r = Registrations::default().overridden_by(vars(&[
            (
                "MAILFERRY_GOOGLE_CLIENT_ID",
                "g-id.apps.googleusercontent.com",
            ),
            ("MAILFERRY_GOOGLE_CLIENT_SECRET", "g-secret"),
            ("MAILFERRY_OAUTH_CLIENT_ID", "one-for-all"),
        ]));
        let google = r.get(Provider::Google).unwrap();
        assert_eq!(google.id, "g-id.apps.googleusercontent.com");
        assert_eq!(google.secret.as_deref(), Some("g-secret"));
        assert_eq!(
            r.get(Provider::Microsoft),
            None,
            "Google's registration is never Microsoft's, nor is a shared one"
        );
        assert_eq!(r.providers(), [Provider::Google]);
        assert_eq!(r.get(Provider::Yahoo), None);
    }

    #[test]
    fn the_environment_overrides_the_build_and_blank_values_are_none() {
        let mut built = Registrations::default();
        built.set(
            Provider::Microsoft,
            client(Some("built-in-microsoft"), None),
        );
        let r = built.clone().overridden_by(vars(&[
            ("MAILFERRY_MICROSOFT_CLIENT_ID", "  their-own  "),
            ("MAILFERRY_MICROSOFT_CLIENT_SECRET", ""),
            ("MAILFERRY_GOOGLE_CLIENT_ID", "   "),
        ]));
        let microsoft = r.get(Provider::Microsoft).unwrap();
        assert_eq!(microsoft.id, "their-own");
        assert_eq!(microsoft.secret, None);
        assert_eq!(
            r.get(Provider::Google),
            None,
            "a blank ID is no registration"
        );
        assert_eq!(built.overridden_by(vars(&[])), {
            let mut same = Registrations::default();
            same.set(
                Provider::Microsoft,
                client(Some("built-in-microsoft"), None),
            );
            same
        });
    }

    #[test]
    fn a_build_without_registrations_says_what_to_do() {
        let words = Registrations::missing_words(Provider::Microsoft);
        assert!(words.contains("registration with Microsoft,"), "{words}");
        assert!(words.contains("MAILFERRY_MICROSOFT_CLIENT_ID"), "{words}");
        assert!(words.contains("app password"), "{words}");
    }
}
