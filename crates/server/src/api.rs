//! The API listener's front end: `GET /healthz` (503 while the
//! configuration view is stale), everything else to the query-protocol core.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use mayfly_core::{ApiRequest, ApiResponse, Core};

use crate::listener::{Connection, RequestHandler};

/// Serves STS and IAM (and `GET /healthz`) from one [`Core`].
#[derive(Debug)]
pub struct ApiFrontEnd {
    core: Arc<Core>,
}

impl ApiFrontEnd {
    /// A front end over `core`.
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }
}

impl RequestHandler for ApiFrontEnd {
    async fn handle(
        &self,
        request: Request<Bytes>,
        connection: Connection,
    ) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        if parts.uri.path() == "/healthz" && parts.method == http::Method::GET {
            // Out of rotation while the configuration view is too old to
            // serve from (every other request is refused meanwhile).
            if !self.core.view_is_current() {
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "configuration view is stale",
                );
            }
            return plain(StatusCode::OK, "ok");
        }
        if parts.uri.path() == "/authorize" {
            return crate::authorize::handle(&self.core, &parts, &body, connection);
        }
        let headers: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect();
        let api_request = ApiRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body: &body,
            source_ip: connection.peer.ip(),
            secure_transport: connection.secure,
        };
        to_http(self.core.handle(api_request).await)
    }

    fn body_too_large(&self, limit: usize) -> Response<Full<Bytes>> {
        to_http(self.core.body_too_large(limit))
    }
}

fn to_http(api: ApiResponse) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(api.body)));
    *response.status_mut() =
        StatusCode::from_u16(api.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(api.content_type),
    );
    if let Ok(id) = HeaderValue::from_str(&api.request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    if let Some(Ok(error_type)) = api.error_type.as_deref().map(HeaderValue::from_str) {
        headers.insert("x-amzn-errortype", error_type);
    }
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    response
}

/// The benchmark baseline: answers every request with a constant 200 over
/// the same listener stack (docs/PERFORMANCE.md).
#[derive(Debug, Default, Clone, Copy)]
pub struct ConstantOk;

impl RequestHandler for ConstantOk {
    async fn handle(
        &self,
        _request: Request<Bytes>,
        _connection: Connection,
    ) -> Response<Full<Bytes>> {
        plain(StatusCode::OK, "ok")
    }

    fn body_too_large(&self, _limit: usize) -> Response<Full<Bytes>> {
        plain(StatusCode::PAYLOAD_TOO_LARGE, "too large")
    }
}
