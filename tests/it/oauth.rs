//! Signing in with an OAuth2 access token (XOAUTH2, OAUTHBEARER) against a
//! real Dovecot whose `oauth2` passdb checks tokens at an introspection
//! endpoint this test serves on loopback: good tokens sign in by every
//! mechanism, with and without SASL-IR; refused ones end in plain words.

use crate::common::{check_within, problem};
use crate::introspection::Introspection;
use mailferry::check::Step;
use mailferry::endpoint::{AuthMechanism, Credentials, Endpoint, Security};
use mailferry::error::Problem;
use mailferry::imap::Session;
use mailferry::provider::Provider;
use mailferry::secret::Secret;
use mailferry_harness::{Direction, Dovecot, Fault, Layout, Proxy};
use std::time::Duration;

fn endpoint(server: &Dovecot, security: Security) -> Endpoint {
    let port = match security {
        Security::Tls => server.tls_port(),
        _ => server.plain_port(),
    };
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(security)
        .with_port(port);
    e.extra_roots_pem.push(server.ca_pem().to_owned());
    e.timeout = Duration::from_secs(10);
    e
}

fn token(user: &str, token: &str, mechanism: AuthMechanism) -> Credentials {
    let mut c = Credentials::access_token(user, Secret::new(token.to_owned()));
    c.mechanism = mechanism;
    c
}

#[tokio::test]
async fn a_good_token_signs_in_by_every_mechanism_and_security() {
    let idp = Introspection::start();
    idp.grant("tok-good-1", "carol");
    let server = idp.dovecot();
    for security in [Security::Tls, Security::StartTls, Security::Plain] {
        for mechanism in [
            AuthMechanism::Auto,
            AuthMechanism::XOAuth2,
            AuthMechanism::OAuthBearer,
        ] {
            let report = check_within(
                &endpoint(&server, security),
                &token("carol", "tok-good-1", mechanism),
            )
            .await;
            assert!(
                report.ok(),
                "{security:?} {mechanism:?}: {report:#?}\n{}",
                server.log()
            );
        }
    }
    assert!(
        server.log().contains("method=OAUTHBEARER") && server.log().contains("method=XOAUTH2"),
        "both mechanisms were used, Auto picking OAUTHBEARER:\n{}",
        server.log()
    );
    assert_eq!(idp.asked(), 9, "every sign-in asked the endpoint once");
}

#[tokio::test]
async fn without_sasl_ir_the_token_follows_the_prompt() {
    let idp = Introspection::start();
    idp.grant("tok-good-2", "carol");
    let server = idp.dovecot();
    let proxy = Proxy::start(server.addr_plain());
    // The server no longer offers SASL-IR: the first response must wait for
    // the server's `+` prompt instead of riding on the command.
    proxy.set_fault(Fault::rewrite(Direction::ToClient, " SASL-IR", ""));
    let mut e = Endpoint::new("127.0.0.1")
        .with_security(Security::Plain)
        .with_port(proxy.port());
    e.timeout = Duration::from_secs(10);
    for mechanism in [AuthMechanism::XOAuth2, AuthMechanism::OAuthBearer] {
        let report = check_within(&e, &token("carol", "tok-good-2", mechanism)).await;
        assert!(report.ok(), "{mechanism:?}: {report:#?}");
        assert!(
            !report.capabilities.iter().any(|c| c == "SASL-IR"),
            "the proxy hid SASL-IR: {:?}",
            report.capabilities
        );
        // A refused token without SASL-IR still reads the error challenge.
        let report = check_within(&e, &token("carol", "tok-unknown", mechanism)).await;
        assert_eq!(
            problem(&report),
            &Problem::TokenExpired {
                provider: Provider::Other
            },
            "{mechanism:?}"
        );
    }
    // Passwords keep working without SASL-IR too.
    let report = check_within(&e, &Credentials::password("carol", "carolpass")).await;
    assert!(report.ok(), "{report:#?}");
}

#[tokio::test]
async fn an_expired_token_is_diagnosed_from_the_error_challenge() {
    let idp = Introspection::start();
    idp.grant("tok-soon-expired", "carol");
    let server = idp.dovecot();
    let e = endpoint(&server, Security::Tls);
    let session = Session::connect(&e, &token("carol", "tok-soon-expired", AuthMechanism::Auto))
        .await
        .expect("the token is good for now");
    session.logout().await;
    idp.revoke("tok-soon-expired");
    for mechanism in [AuthMechanism::XOAuth2, AuthMechanism::OAuthBearer] {
        let creds = token("carol", "tok-soon-expired", mechanism);
        let report = check_within(&e, &creds).await;
        // Dovecot's challenge says {"status":"invalid_token",…}.
        assert_eq!(
            problem(&report),
            &Problem::TokenExpired {
                provider: Provider::Other
            },
            "{mechanism:?}: {report:#?}"
        );
        let failure = report.failure.as_ref().unwrap();
        assert_eq!(failure.step, Step::SignedIn);
        assert!(
            failure.message.contains("Sign in again"),
            "{}",
            failure.message
        );
        let err = Session::connect(&e, &creds).await.unwrap_err();
        assert!(err.is_auth() && err.needs_new_token(), "{err:?}");
        assert!(!err.is_transient(), "retrying the same token cannot help");
    }
}

#[tokio::test]
async fn a_token_for_another_user_is_refused() {
    let idp = Introspection::start();
    idp.grant("tok-dave", "dave");
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("carol", "carolpass")
        .user("dave", "davepass")
        .oauth2_introspection(idp.url())
        .build();
    let report = check_within(
        &endpoint(&server, Security::Tls),
        &token("carol", "tok-dave", AuthMechanism::Auto),
    )
    .await;
    assert!(
        report
            .failure
            .as_ref()
            .is_some_and(|f| f.step == Step::SignedIn),
        "dave's token does not open carol's mailbox: {report:#?}"
    );
}

#[tokio::test]
async fn a_server_without_oauth_says_so_before_sending_the_token() {
    // A stock Dovecot: PLAIN and LOGIN only.
    let server = Dovecot::builder()
        .layout(Layout::Exchange)
        .user("carol", "carolpass")
        .build();
    let report = check_within(
        &endpoint(&server, Security::Tls),
        &token("carol", "tok-x", AuthMechanism::Auto),
    )
    .await;
    assert_eq!(
        problem(&report),
        &Problem::OAuthUnavailable {
            host: "127.0.0.1".into()
        }
    );
    assert!(
        !server.log().contains("carol"),
        "no sign-in was attempted:\n{}",
        server.log()
    );
}

#[tokio::test]
async fn a_token_is_never_sent_as_a_password_nor_a_password_as_a_token() {
    let idp = Introspection::start();
    let server = idp.dovecot();
    let e = endpoint(&server, Security::Tls);
    for mechanism in [AuthMechanism::Login, AuthMechanism::Plain] {
        let report = check_within(&e, &token("carol", "tok-y", mechanism)).await;
        assert!(
            matches!(problem(&report), Problem::AuthFailed { .. }),
            "{report:#?}"
        );
    }
    let mut creds = Credentials::password("carol", "carolpass");
    creds.mechanism = AuthMechanism::XOAuth2;
    let report = check_within(&e, &creds).await;
    assert!(
        matches!(problem(&report), Problem::AuthFailed { .. }),
        "{report:#?}"
    );
    assert_eq!(idp.asked(), 0, "nothing reached the token endpoint");
}
