//! Signing in without leaving a secret behind: the OS keychain for app
//! passwords and refresh tokens ([`keychain`]), and the OAuth2 browser flow
//! for native apps ([`oauth`]), run the same way by the command line and the
//! desktop app ([`signin`]: the refresh token kept, bound to its issuer).
//! Access tokens live only in memory, in
//! [`Secret`](crate::secret::Secret)s; the SASL side of OAuth (XOAUTH2,
//! OAUTHBEARER) is in [`crate::imap`].

pub mod credentials;
pub mod grant;
pub mod keychain;
pub mod oauth;
pub mod registration;
pub mod signin;
