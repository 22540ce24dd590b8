//! Each server side resolved from its flags: the endpoint (security,
//! port, timeout, pinned certificate, extra authorities) and the sign-in
//! (a password from a file, the environment, a prompt or the keychain; an
//! access token; a browser sign-in kept in the keychain; a Google service
//! account or Microsoft client credentials).

use super::args::{LookupArgs, Servers};
use super::engine_error;
use anyhow::{bail, Context};
use mailferry::auth::grant::{ClientCredentials, ServiceAccount, TokenSource};
use mailferry::auth::keychain::{Account, Keychain, SecretKind};
use mailferry::endpoint::{AuthMechanism, Credentials, Endpoint, Fingerprint, Proof, Security};
use mailferry::error::Problem;
use mailferry::secret::Secret;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// One server's flags without their number (`--host1` and `--host2` are
/// both `host`), and how to sign in to it.
#[derive(Clone)]
pub(crate) struct Side {
    pub(crate) n: &'static str,
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) user: Option<String>,
    pub(crate) passfile: Option<PathBuf>,
    pub(crate) tls: bool,
    pub(crate) starttls: bool,
    pub(crate) plain: bool,
    pub(crate) pin: Option<String>,
    pub(crate) cafile: Option<PathBuf>,
    pub(crate) timeout: f64,
    pub(crate) authmech: String,
    pub(crate) authuser: Option<String>,
    pub(crate) keychain: bool,
    pub(crate) oauthaccesstoken: Option<PathBuf>,
    pub(crate) oauth: Option<String>,
    pub(crate) serviceaccount: Option<PathBuf>,
    pub(crate) clientcredentials: Option<String>,
    pub(crate) compress: bool,
    /// Never compress, not even on a link measured slow.
    pub(crate) nocompress: bool,
    /// A password from a --mailboxes list's row.
    pub(crate) row_password: Option<Secret<String>>,
    /// Where `--hostN auto` looks.
    pub(crate) lookup: LookupArgs,
}

impl Side {
    /// "Source" or "Destination", for messages.
    pub(crate) fn role(&self) -> &'static str {
        if self.n == "1" {
            "Source"
        } else {
            "Destination"
        }
    }

    /// This side's server as far as a job's name needs it (name, port,
    /// security), without signing in: for reading a list's progress.
    pub(crate) fn server(&self) -> anyhow::Result<Endpoint> {
        let n = self.n;
        let host = match self.host.as_deref() {
            None | Some("auto") => {
                bail!("give --host{n} NAME: the server the list was migrated with")
            }
            Some(host) => host,
        };
        let security = match (self.tls, self.starttls, self.plain) {
            (_, true, _) => Security::StartTls,
            (_, _, true) => Security::Plain,
            _ => Security::Tls,
        };
        let mut endpoint = Endpoint::new(host).with_security(security);
        if let Some(port) = self.port {
            endpoint = endpoint.with_port(port);
        }
        Ok(endpoint)
    }

    /// The endpoint and credentials, or None when this side wasn't given.
    pub(crate) fn resolve(mut self) -> anyhow::Result<Option<(Endpoint, Credentials)>> {
        let n = self.n;
        let mut found = None;
        if self.host.as_deref() == Some("auto") {
            let Some(user) = self.user.clone() else {
                bail!("--host{n} auto finds the server from --user{n}'s email address: give --user{n}");
            };
            let given: Vec<String> = [
                self.port.map(|p| format!("--port{n} {p}")),
                self.starttls.then(|| format!("--starttls{n}")),
                self.plain.then(|| format!("--plain{n}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !given.is_empty() {
                bail!(
                    "{} can't be used with --host{n} auto: discovery uses the port and security \
                     it proved. Run `mailferry discover {user}` to see what it finds, or give \
                     --host{n} NAME to choose them yourself.",
                    given.join(" and ")
                );
            }
            let settings =
                super::discover::settings(&self.lookup, self.cafile.as_deref(), self.timeout)?;
            let discovery = super::discover::for_side(self.role(), n, &user, &settings)?;
            let chosen = discovery
                .chosen()
                .cloned()
                .context("discovery chose no server")?;
            self.host = Some(chosen.host.clone());
            found = Some(chosen);
        }
        let Some(host) = self.host.clone() else {
            if self.user.is_some() || self.passfile.is_some() {
                bail!("--user{n} or --passfile{n} given without --host{n}");
            }
            return Ok(None);
        };
        let security = match (self.tls, self.starttls, self.plain) {
            (_, true, _) => Security::StartTls,
            (_, _, true) => Security::Plain,
            _ => Security::Tls,
        };
        let mut endpoint = Endpoint::new(host).with_security(security);
        if let Some(port) = self.port {
            endpoint = endpoint.with_port(port);
        }
        if let Some(chosen) = &found {
            // Discovery decides the port and security it proved (a port
            // or security given beside `auto` was refused above).
            endpoint = endpoint
                .with_security(chosen.security)
                .with_port(chosen.port);
            endpoint.address = chosen.address;
        }
        if !(0.1..=3600.0).contains(&self.timeout) {
            bail!("--timeout{n} must be between 0.1 and 3600 seconds");
        }
        endpoint.timeout = Duration::from_secs_f64(self.timeout);
        endpoint.compress = self.compress;
        endpoint.compress_when_slow = !self.nocompress;
        if let Some(pin) = &self.pin {
            endpoint.pinned_certificate =
                Some(Fingerprint::parse(pin).with_context(|| format!("--pin-cert{n}"))?);
        }
        if let Some(path) = &self.cafile {
            endpoint.extra_roots_pem.push(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --cafile{n} {}", path.display()))?,
            );
        }
        let user = self
            .user
            .clone()
            .with_context(|| format!("--user{n} is needed with --host{n}"))?;
        let proof = self.proof()?;
        let mechanism = match self.authmech.to_ascii_uppercase().as_str() {
            "AUTO" => AuthMechanism::Auto,
            "LOGIN" => AuthMechanism::Login,
            "PLAIN" => AuthMechanism::Plain,
            "XOAUTH2" => AuthMechanism::XOAuth2,
            "OAUTHBEARER" => AuthMechanism::OAuthBearer,
            other => bail!("--authmech{n} {other}: use LOGIN, PLAIN, XOAUTH2, OAUTHBEARER or AUTO"),
        };
        let credentials = Credentials {
            user,
            proof,
            admin: self.authuser.clone(),
            mechanism,
        };
        Ok(Some((endpoint, credentials)))
    }

    /// This side for one mailbox of a list: its user, and the row's
    /// password when the list had one (else the side's own sign-in flags).
    pub(crate) fn resolve_for(
        &self,
        user: &str,
        password: Option<Secret<String>>,
    ) -> anyhow::Result<(Endpoint, Credentials)> {
        let mut side = self.clone();
        side.user = Some(user.to_owned());
        if let Some(password) = password {
            side.passfile = None;
            side.keychain = false;
            side.row_password = Some(password);
        } else if side.authuser.is_none()
            && side.serviceaccount.is_none()
            && side.clientcredentials.is_none()
            && side.oauth.is_none()
            && !side.keychain
        {
            bail!(
                "{user}: the list has no password for side {} and no sign-in for every mailbox was \
                 given (--serviceaccount{n}, --clientcredentials{n} or --authuser{n})",
                side.n,
                n = side.n
            );
        }
        side.resolve()?
            .with_context(|| format!("--host{} is needed with --mailboxes", self.n))
    }

    /// The account this side signs in to, for the keychain.
    pub(crate) fn account(&self) -> Option<Account> {
        Some(Account::new(self.user.clone()?, self.host.clone()?))
    }

    /// An access token from --oauthaccesstokenN, a password from the
    /// keychain (--keychainN), or else [`Side::password`].
    fn proof(&self) -> anyhow::Result<Proof> {
        let n = self.n;
        if let Some(password) = &self.row_password {
            return Ok(Proof::Password(password.clone()));
        }
        if let Some(path) = &self.oauthaccesstoken {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --oauthaccesstoken{n} {}", path.display()))?;
            let text = Secret::new(text);
            let token = text.expose().lines().next().unwrap_or("").trim().to_owned();
            if token.is_empty() {
                bail!(
                    "--oauthaccesstoken{n} {}: the first line is empty",
                    path.display()
                );
            }
            return Ok(Proof::AccessToken(Secret::new(token)));
        }
        if let Some(issuer) = &self.oauth {
            let account = self.account().context("--oauth needs --user and --host")?;
            return oauth_proof(issuer, &account).map_err(|e| engine_error(self.role(), e));
        }
        if let Some(path) = &self.serviceaccount {
            let user = self
                .user
                .as_deref()
                .context("--serviceaccount needs --user")?;
            let json =
                Secret::new(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read --serviceaccount{n} {}", path.display())
                })?);
            let grant = ServiceAccount::from_key_json(&json, user)
                .map_err(|e| engine_error(self.role(), e))?;
            return Ok(Proof::Renewable(TokenSource::new(grant)));
        }
        if let Some(tenant) = &self.clientcredentials {
            let (Ok(id), Ok(secret)) = (
                std::env::var("MAILFERRY_OAUTH_CLIENT_ID"),
                std::env::var("MAILFERRY_OAUTH_CLIENT_SECRET"),
            ) else {
                bail!(
                    "--clientcredentials{n} needs the app's ID and secret in MAILFERRY_OAUTH_CLIENT_ID \
                     and MAILFERRY_OAUTH_CLIENT_SECRET"
                );
            };
            let grant = ClientCredentials::new(tenant, &id, Secret::new(secret));
            return Ok(Proof::Renewable(TokenSource::new(grant)));
        }
        if self.keychain {
            let account = self
                .account()
                .context("--keychain needs --user and --host")?;
            let keychain = Keychain::system().map_err(|e| engine_error(self.role(), e))?;
            return match keychain
                .load(SecretKind::Password, &account)
                .map_err(|e| engine_error(self.role(), e))?
            {
                Some(password) => Ok(Proof::Password(password)),
                None => Err(engine_error(
                    self.role(),
                    Problem::NotInKeychain {
                        account: account.to_string(),
                    }
                    .into(),
                )),
            };
        }
        Ok(Proof::Password(self.password()?))
    }

    /// The password from a file, the environment, or a prompt — never argv.
    fn password(&self) -> anyhow::Result<Secret<String>> {
        read_password(
            self.n,
            self.passfile.as_deref(),
            self.user.as_deref().unwrap_or(""),
            self.host.as_deref().unwrap_or(""),
        )
    }
}

/// Side `n`'s password: the first line of `passfile`, else the
/// MAILFERRY_PASSWORD`n` environment variable, else a prompt — never argv.
pub(crate) fn read_password(
    n: &str,
    passfile: Option<&std::path::Path>,
    user: &str,
    host: &str,
) -> anyhow::Result<Secret<String>> {
    if let Some(path) = passfile {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --passfile{n} {}", path.display()))?;
        let text = Secret::new(text);
        let first = text.expose().lines().next().unwrap_or("").to_owned();
        return Ok(Secret::new(first));
    }
    if let Ok(value) = std::env::var(format!("MAILFERRY_PASSWORD{n}")) {
        return Ok(Secret::new(value));
    }
    if std::io::stdin().is_terminal() {
        let prompt = format!("Password for {user} on {host}: ");
        let value = rpassword::prompt_password(prompt).context("cannot read the password")?;
        return Ok(Secret::new(value));
    }
    bail!("no password for side {n}: give --passfile{n} FILE or set MAILFERRY_PASSWORD{n}")
}

impl Servers {
    /// Both sides' flags, each with where `--hostN auto` looks.
    pub(crate) fn sides(self) -> [Side; 2] {
        let mut one = Side::from(self.side1);
        let mut two = Side::from(self.side2);
        one.lookup = self.lookup.clone();
        two.lookup = self.lookup;
        [one, two]
    }

    /// Both sides, resolved; `command` names the command in the error when one is missing.
    pub(crate) fn both(self, command: &str) -> anyhow::Result<[(Endpoint, Credentials); 2]> {
        let [source, dest] = self.sides();
        let source = source.resolve()?;
        let dest = dest.resolve()?;
        match (source, dest) {
            (Some(s), Some(d)) => Ok([s, d]),
            _ => bail!(
                "{command} needs both servers: give --host1 (where the mail is now) and --host2 \
                 (where it goes)"
            ),
        }
    }
}

/// Access tokens for `account` from the issuer (`google`, `microsoft` or
/// a URL), through the engine's browser sign-in (`auth::signin`): the
/// refresh token the keychain keeps for this issuer, else the browser (the
/// stand-in named by MAILFERRY_BROWSER in tests). Without a keychain the
/// sign-in lives for this run only; either way it renews the access token
/// during the run.
fn oauth_proof(issuer: &str, account: &Account) -> Result<Proof, mailferry::error::Error> {
    let issuer = mailferry::auth::oauth::Issuer::from_name(issuer)?;
    issuer_proof(issuer, account)
}

/// Access tokens to Microsoft Graph's contacts and calendars of `user`
/// ([`GRAPH_SCOPES`](mailferry::auth::oauth::GRAPH_SCOPES)) from the
/// issuer (`microsoft`, or a URL), through the browser sign-in as for the
/// mail ([`oauth_proof`]), kept in the keychain apart from the mail's.
pub(crate) fn graph_proof(issuer: &str, user: &str) -> Result<Proof, mailferry::error::Error> {
    let issuer = mailferry::auth::oauth::Issuer::from_name(issuer)?.for_graph();
    issuer_proof(issuer, &mailferry::auth::signin::graph_account(user))
}

/// Access tokens to Google's contacts and calendars of `user`
/// ([`GOOGLE_DAV_SCOPES`](mailferry::auth::oauth::GOOGLE_DAV_SCOPES): CardDAV
/// and CalDAV take nothing else) from `issuer` (Google's, or one named by URL),
/// through the browser sign-in as for the mail ([`oauth_proof`]), kept in
/// the keychain apart from the mail's.
pub(crate) fn google_dav_proof(
    issuer: &mailferry::auth::oauth::Issuer,
    user: &str,
) -> Result<Proof, mailferry::error::Error> {
    issuer_proof(
        issuer.for_google_dav(),
        &mailferry::auth::signin::google_dav_account(user),
    )
}

/// [`oauth_proof`] with the issuer found.
fn issuer_proof(
    issuer: mailferry::auth::oauth::Issuer,
    account: &Account,
) -> Result<Proof, mailferry::error::Error> {
    use mailferry::auth::oauth::{self, Client};
    use mailferry::auth::registration::Registrations;
    use mailferry::auth::signin::{self, Kept, SignIn};
    use mailferry::provider::Provider;
    // Google and Microsoft: each its own registration (this build's, or
    // the one the environment names for that provider). Another issuer,
    // named by its URL: the registration MAILFERRY_OAUTH_CLIENT_ID names.
    let client =
        match issuer.provider {
            Provider::Google | Provider::Microsoft => Registrations::current()
                .get(issuer.provider)
                .cloned()
                .ok_or_else(|| {
                    mailferry::error::Error::new(Problem::RegistrationMissing {
                        provider: issuer.provider,
                    })
                })?,
            _ => match std::env::var("MAILFERRY_OAUTH_CLIENT_ID") {
                Ok(id) if !id.trim().is_empty() => Client {
                    id,
                    secret: std::env::var("MAILFERRY_OAUTH_CLIENT_SECRET").ok(),
                },
                _ => return Err(mailferry::error::Error::new(Problem::BrowserSignInFailed {
                    issuer: issuer.name.clone(),
                })
                .with_detail(
                    "no client ID: register MailFerry as a desktop app with this issuer and set \
                     MAILFERRY_OAUTH_CLIENT_ID (and MAILFERRY_OAUTH_CLIENT_SECRET if it gave one)",
                )),
            },
        };
    let keychain = Keychain::system();
    let browser = Announced {
        browser: oauth::browser_from_env(),
        issuer: issuer.name.clone(),
        user: account.user.clone(),
    };
    let signed_in = signin::sign_in(SignIn {
        issuer: &issuer,
        client: &client,
        account,
        keychain: keychain.as_ref().ok(),
        browser: &browser,
        wait: Duration::from_secs(300),
    })?;
    if signed_in.kept == Kept::SessionOnly {
        match &keychain {
            Err(e) => eprintln!("mailferry: {e} The sign-in is kept for this run only."),
            Ok(_) => eprintln!("mailferry: the sign-in is kept for this run only."),
        }
    }
    Ok(signed_in.proof)
}

/// The browser, opened after saying so on the terminal.
struct Announced {
    browser: std::sync::Arc<dyn mailferry::auth::oauth::Browser + Send + Sync>,
    issuer: String,
    user: String,
}

impl mailferry::auth::oauth::Browser for Announced {
    fn open(&self, url: &str) -> std::io::Result<()> {
        eprintln!(
            "Opening your browser to sign in to {} as {}…",
            self.issuer, self.user
        );
        self.browser.open(url)
    }
}
