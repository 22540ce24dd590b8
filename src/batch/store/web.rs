//! The object store client's HTTP requests, sent by ureq (the HTTP client
//! the OAuth code already uses: rustls with ring, the platform's trust
//! store) instead of object_store's own reqwest stack, which would bring a
//! second TLS library. Each request runs on a blocking thread; a progress
//! file is sent and read whole.
//!
//! As object_store's own client does, a request over plain `http://` is
//! refused unless the store's settings allow it (an S3-compatible
//! endpoint named with `http://`, the Azure emulator, a cloud's metadata
//! server); a loopback address is always allowed (local emulators).

use object_store::client::{
    ClientConfigKey, ClientOptions, HttpClient, HttpConnector, HttpError, HttpErrorKind,
    HttpRequest, HttpResponse, HttpResponseBody, HttpService,
};
use std::time::Duration;

/// Makes the object store's HTTP client.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Connector;

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let option = |key| options.get_config_value(&key);
        let allow_http = option(ClientConfigKey::AllowHttp)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let agent = ureq::Agent::config_builder()
            // The store's answers (404, 412) are the client's to read.
            .http_status_as_error(false)
            // A redirect is not followed: it could lead off https://.
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(300)))
            // A metadata server asks for a short one (it is not there off
            // the cloud).
            .timeout_connect(option(ClientConfigKey::ConnectTimeout).and_then(|v| duration(&v)))
            .build()
            .new_agent();
        Ok(HttpClient::new(Ureq { agent, allow_http }))
    }
}

/// A duration as object_store writes one ("1s", "500ms", "2m").
fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" | "min" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

#[derive(Debug)]
struct Ureq {
    agent: ureq::Agent,
    /// Plain `http://` allowed by the store's settings.
    allow_http: bool,
}

/// Why a request was not sent: plain `http://` to a host that is not this
/// computer, where the store's settings did not ask for it.
#[derive(Debug)]
struct PlainHttp(String);

impl std::fmt::Display for PlainHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MailFerry did not send the progress file to {} over plain http:// (not \
             encrypted): use the store's https:// address",
            self.0
        )
    }
}

impl std::error::Error for PlainHttp {}

/// Whether a request to `uri` may be sent: over https://, or over plain
/// http:// when allowed or to this computer.
fn may_send(uri: &http::Uri, allow_http: bool) -> Result<(), PlainHttp> {
    if uri.scheme_str() == Some("https") || allow_http {
        return Ok(());
    }
    let host = uri.host().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(PlainHttp(host.to_owned()))
    }
}

#[async_trait::async_trait]
impl HttpService for Ureq {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        use http_body_util::BodyExt;
        may_send(req.uri(), self.allow_http)
            .map_err(|e| HttpError::new(HttpErrorKind::Request, e))?;
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes();
        let agent = self.agent.clone();
        tokio::task::spawn_blocking(move || {
            let sent = if body.is_empty() {
                agent.run(http::Request::from_parts(parts, ()))
            } else {
                agent.run(http::Request::from_parts(parts, body.to_vec()))
            };
            let response = sent.map_err(|e| HttpError::new(kind(&e), e))?;
            let (parts, mut body) = response.into_parts();
            let bytes = body
                .with_config()
                .limit(u64::MAX)
                .read_to_vec()
                .map_err(|e| HttpError::new(HttpErrorKind::Decode, e))?;
            Ok(http::Response::from_parts(
                parts,
                HttpResponseBody::from(bytes),
            ))
        })
        .await
        .map_err(|e| HttpError::new(HttpErrorKind::Unknown, e))?
    }
}

/// How the object store client should treat a failed request (connection
/// problems and timeouts are retried).
fn kind(e: &ureq::Error) -> HttpErrorKind {
    match e {
        ureq::Error::Timeout(_) => HttpErrorKind::Timeout,
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            HttpErrorKind::Connect
        }
        _ => HttpErrorKind::Request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(url: &str, options: &ClientOptions) -> Result<HttpResponse, HttpError> {
        let client = Connector.connect(options).unwrap();
        let request = http::Request::get(url)
            .body(object_store::client::HttpRequestBody::empty())
            .unwrap();
        client.execute(request).await
    }

    #[tokio::test]
    async fn plain_http_to_another_host_is_refused_unless_the_settings_allow_it() {
        // 0.0.0.0 is not loopback by name, but a connection to it stays on
        // this computer (port 1: nothing listens, it is refused at once).
        let url = "http://0.0.0.0:1/bucket/p.db";
        let refused = get(url, &ClientOptions::new()).await.unwrap_err();
        assert_eq!(refused.kind(), HttpErrorKind::Request, "{refused:?}");
        let text = std::error::Error::source(&refused).map(ToString::to_string);
        assert!(
            text.as_deref().is_some_and(|t| t.contains("plain http://")),
            "{text:?}"
        );
        // Allowed by the settings: sent (and refused by the network).
        let sent = get(url, &ClientOptions::new().with_allow_http(true))
            .await
            .unwrap_err();
        assert_eq!(sent.kind(), HttpErrorKind::Connect, "{sent:?}");
    }

    #[test]
    fn loopback_and_https_are_always_allowed() {
        for url in [
            "https://storage.googleapis.com/b/o",
            "http://127.0.0.1:9000/b/o",
            "http://[::1]:9000/b/o",
            "http://localhost:9000/b/o",
        ] {
            assert!(may_send(&url.parse().unwrap(), false).is_ok(), "{url}");
        }
        for url in ["http://minio.lan:9000/b/o", "http://10.0.0.5/b/o"] {
            assert!(may_send(&url.parse().unwrap(), false).is_err(), "{url}");
            assert!(may_send(&url.parse().unwrap(), true).is_ok(), "{url}");
        }
    }

    #[test]
    fn durations_as_object_store_writes_them() {
        assert_eq!(duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(duration("soon"), None);
    }
}
