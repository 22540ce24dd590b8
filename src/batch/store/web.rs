//! The object store client's HTTP requests, sent by ureq (the HTTP client
//! the OAuth code already uses: rustls with ring, the platform's trust
//! store) instead of object_store's own reqwest stack, which would bring a
//! second TLS library. Each request runs on a blocking thread; a progress
//! file is sent and read whole.

use object_store::client::{
    ClientOptions, HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};

/// Makes the object store's HTTP client.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Connector;

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let _ = options;
        let agent = ureq::Agent::config_builder()
            // The store's answers (404, 412) are the client's to read.
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(300)))
            .build()
            .new_agent();
        Ok(HttpClient::new(Ureq(agent)))
    }
}

#[derive(Debug)]
struct Ureq(ureq::Agent);

#[async_trait::async_trait]
impl HttpService for Ureq {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        use http_body_util::BodyExt;
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes();
        let agent = self.0.clone();
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
