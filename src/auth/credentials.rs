//! Who signs in, and with what: plain data the CLI builds from flags and
//! the desktop shell from the wizard. No I/O.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// How to sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AuthMechanism {
    /// With a password: AUTHENTICATE PLAIN when the server offers it, else
    /// LOGIN. With an access token: OAUTHBEARER when offered, else XOAUTH2.
    #[default]
    Auto,
    /// The LOGIN command.
    Login,
    /// SASL PLAIN (RFC 4616), with SASL-IR when offered.
    Plain,
    /// SASL XOAUTH2 (Google's and Microsoft's), with SASL-IR when offered.
    XOAuth2,
    /// SASL OAUTHBEARER (RFC 7628), with SASL-IR when offered.
    OAuthBearer,
}

/// What proves that the user is who they say.
#[derive(Clone, Debug)]
pub enum Proof {
    /// A password or app password.
    Password(Secret<String>),
    /// An OAuth2 access token (sent with XOAUTH2 or OAUTHBEARER). Held in
    /// memory only; it expires, typically after an hour.
    AccessToken(Secret<String>),
    /// OAuth2 access tokens from a source that renews them: before they
    /// expire, and when a server turns one down (a long run outlives a
    /// one-hour token). Every connection of a run shares the source.
    Renewable(crate::auth::grant::TokenSource),
}

/// Who signs in, and with what.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The account name (usually the email address).
    pub user: String,
    /// The password or the access token.
    pub proof: Proof,
    /// Sign in as `user` with the password of this administrator (SASL
    /// PLAIN authorization identity; Dovecot and Cyrus master users).
    pub admin: Option<String>,
    /// Which mechanism to use.
    pub mechanism: AuthMechanism,
}

impl Credentials {
    /// A user name and password, with the automatic mechanism choice.
    pub fn password(user: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            user: user.into(),
            proof: Proof::Password(Secret::new(password.into())),
            admin: None,
            mechanism: AuthMechanism::Auto,
        }
    }

    /// A user name and an OAuth2 access token, with the automatic mechanism
    /// choice (OAUTHBEARER when offered, else XOAUTH2).
    pub fn access_token(user: impl Into<String>, token: Secret<String>) -> Self {
        Credentials {
            user: user.into(),
            proof: Proof::AccessToken(token),
            admin: None,
            mechanism: AuthMechanism::Auto,
        }
    }

    /// Does this sign in with an OAuth2 access token?
    pub fn is_oauth(&self) -> bool {
        matches!(self.proof, Proof::AccessToken(_) | Proof::Renewable(_))
    }

    /// A user name and a source of access tokens that renews them.
    pub fn renewable(user: impl Into<String>, source: crate::auth::grant::TokenSource) -> Self {
        Credentials {
            user: user.into(),
            proof: Proof::Renewable(source),
            admin: None,
            mechanism: AuthMechanism::Auto,
        }
    }

    /// The same user and mechanism with this access token.
    pub fn with_access_token(&self, token: Secret<String>) -> Self {
        Credentials {
            proof: Proof::AccessToken(token),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials::password("alice", "s3cr3t-pw");
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
        let t = Credentials::access_token("alice", Secret::new("ya29.tok".into()));
        assert!(!format!("{t:?}").contains("ya29"));
        assert!(t.is_oauth() && !c.is_oauth());
    }
}
