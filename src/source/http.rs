//! The API Gateway door (SPEC 5.2 and 10): the request as API Gateway hands it over (payload
//! formats 2.0 and 1.0), its body undone (base64, gzip, the 32 MiB limit), the write-key check,
//! and the whole door in order: method, path, body, JSON, key, shape, receipt fields. Pure: the
//! arrival time comes in; refusals come out as a status and a reason.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine;

use super::tracking_api::{self, Endpoint};
use super::{Items, Receipt, Unusable};
use crate::config::Config;
use crate::json::{self, Value};

/// Most bytes an API Gateway body may have once decoded and decompressed (SPEC 5.2).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// An API Gateway proxy request, either payload format.
#[derive(Debug)]
pub struct HttpRequest<'p> {
    /// `2.0` (HTTP API) or `1.0` (REST API).
    pub version: HttpVersion,
    /// The HTTP method, as sent.
    pub method: Cow<'p, str>,
    /// Header names and values, as sent.
    pub headers: Vec<(Cow<'p, str>, Cow<'p, str>)>,
    /// The body, still base64-encoded when `is_base64` is set.
    pub body: Option<Cow<'p, str>>,
    /// `isBase64Encoded`.
    pub is_base64: bool,
    /// `requestContext.requestId`, used as the rejected items' source.
    pub request_id: String,
    /// The request path: `rawPath` (2.0) or `path` (1.0).
    pub path: Option<Cow<'p, str>>,
    /// When API Gateway received the request, in ms since the epoch: `requestContext.timeEpoch`
    /// (2.0) or `requestContext.requestTimeEpoch` (1.0).
    pub time_epoch_ms: Option<i64>,
    /// The client's IP: `requestContext.http.sourceIp` (2.0) or `.identity.sourceIp` (1.0).
    pub source_ip: Option<String>,
}

/// API Gateway payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    /// REST API proxy, payload format 1.0.
    V1,
    /// HTTP API, payload format 2.0.
    V2,
}

impl HttpRequest<'_> {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<'p> HttpRequest<'p> {
    pub(super) fn from_members(
        members: Vec<(Cow<'p, str>, Value<'p>)>,
        version: HttpVersion,
    ) -> HttpRequest<'p> {
        let mut req = HttpRequest {
            version,
            method: Cow::Borrowed(""),
            headers: Vec::new(),
            body: None,
            is_base64: false,
            request_id: String::new(),
            path: None,
            time_epoch_ms: None,
            source_ip: None,
        };
        let mut multi = Vec::new();
        for (k, v) in members {
            match (k.as_ref(), v.into_resolved()) {
                ("httpMethod", Value::String(m)) if version == HttpVersion::V1 => req.method = m,
                ("requestContext", ctx) => {
                    if let Some(id) = ctx.get("requestId").and_then(Value::as_str) {
                        req.request_id = id.to_owned();
                    }
                    let (time_key, ip_parent) = match version {
                        HttpVersion::V2 => ("timeEpoch", "http"),
                        HttpVersion::V1 => ("requestTimeEpoch", "identity"),
                    };
                    if version == HttpVersion::V2 {
                        if let Some(m) = ctx.get("http").and_then(|h| h.get("method")) {
                            if let Some(m) = m.as_str() {
                                req.method = Cow::Owned(m.to_owned());
                            }
                        }
                    }
                    req.time_epoch_ms = match ctx.get(time_key) {
                        Some(Value::Number(n)) => n.parse::<i64>().ok(),
                        _ => None,
                    };
                    req.source_ip = ctx
                        .get(ip_parent)
                        .and_then(|p| p.get("sourceIp"))
                        .and_then(Value::as_str)
                        .filter(|ip| !ip.is_empty())
                        .map(str::to_owned);
                }
                ("rawPath", Value::String(p)) if version == HttpVersion::V2 => req.path = Some(p),
                ("path", Value::String(p)) if version == HttpVersion::V1 => req.path = Some(p),
                ("headers", Value::Object(hs)) => {
                    for (name, value) in hs {
                        if let Value::String(value) = value {
                            req.headers.push((name, value));
                        }
                    }
                }
                ("multiValueHeaders", Value::Object(hs)) => {
                    for (name, values) in hs {
                        if let Value::Array(values) = values.into_resolved() {
                            if let Some(Value::String(first)) = values.into_iter().next() {
                                multi.push((name, first));
                            }
                        }
                    }
                }
                ("body", Value::String(b)) => req.body = Some(b),
                ("isBase64Encoded", Value::Bool(b)) => req.is_base64 = b,
                _ => {}
            }
        }
        // `headers` wins; `multiValueHeaders` fills in names it lacks (REST API sends both).
        for (name, value) in multi {
            if req.header(&name).is_none() {
                req.headers.push((name, value));
            }
        }
        req
    }
}

/// Why an API Gateway body is refused before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// 400: bad base64, bad gzip, unsupported encoding, not UTF-8, or no body.
    #[error("{0}")]
    Bad(String),
    /// 413: larger than [`MAX_BODY_BYTES`] once decoded.
    #[error("the body is larger than 32 MiB once decompressed")]
    TooLarge,
}

/// Undoes base64 and gzip (`Content-Encoding`, case-insensitive) and checks the size and UTF-8.
/// A gzip body is inflated only up to the limit, never whole.
///
/// # Errors
/// [`BodyError`] as described on its variants.
pub fn decode_http_body<'b>(req: &'b HttpRequest<'_>) -> Result<Cow<'b, str>, BodyError> {
    let Some(body) = req.body.as_deref() else {
        return Err(BodyError::Bad("the request has no body".to_owned()));
    };
    let mut bytes: Cow<'b, [u8]> = Cow::Borrowed(body.as_bytes());
    if req.is_base64 {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(body.trim_end())
            .map_err(|e| BodyError::Bad(format!("the body is not valid base64: {e}")))?;
        bytes = Cow::Owned(decoded);
    }
    if bytes.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    let encoding = req
        .header("content-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => {}
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(MAX_BODY_BYTES));
            let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX) + 1;
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| BodyError::Bad(format!("the body is not valid gzip: {e}")))?;
            if out.len() > MAX_BODY_BYTES {
                return Err(BodyError::TooLarge);
            }
            bytes = Cow::Owned(out);
        }
        other => {
            return Err(BodyError::Bad(format!(
                "Content-Encoding {other:?} is not supported (use gzip or none)"
            )))
        }
    }
    match bytes {
        Cow::Borrowed(b) => std::str::from_utf8(b).map(Cow::Borrowed),
        Cow::Owned(b) => String::from_utf8(b)
            .map(Cow::Owned)
            .map_err(|e| e.utf8_error()),
    }
    .map_err(|e| BodyError::Bad(format!("the body is not UTF-8: {e}")))
}

/// The `writeKey` of a body that is an object (a batch or a single event).
fn body_write_key<'v>(doc: &'v Value<'_>) -> Option<&'v str> {
    doc.get("writeKey").and_then(Value::as_str)
}

/// Why the door answers before anything is planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A CORS preflight (SPEC 10.4): `204` with these headers.
    Preflight(Vec<(&'static str, String)>),
    /// A refusal: the status (SPEC 9's order) and why, on one line.
    Status(u16, String),
}

/// A request past the method, path and body checks.
#[derive(Debug)]
pub struct Accepted<'b> {
    /// What the path asks for.
    pub endpoint: Endpoint,
    /// The body, decoded.
    pub text: Cow<'b, str>,
}

impl HttpRequest<'_> {
    /// The first checks, in SPEC 9's order: method (`OPTIONS` is a preflight, anything but
    /// `POST` is `405`), path (`404`), then base64, gzip and size (`400`/`413`).
    ///
    /// # Errors
    /// [`Refusal`] with the answer.
    pub fn accept(&self) -> Result<Accepted<'_>, Refusal> {
        if self.method.eq_ignore_ascii_case("OPTIONS") {
            return Err(Refusal::Preflight(tracking_api::preflight_headers(
                self.header("access-control-request-headers"),
            )));
        }
        if !self.method.eq_ignore_ascii_case("POST") {
            return Err(Refusal::Status(
                405,
                "only POST is accepted (and OPTIONS, for CORS preflights)".to_owned(),
            ));
        }
        let Some(endpoint) = self.path.as_deref().and_then(Endpoint::from_path) else {
            return Err(Refusal::Status(
                404,
                format!(
                    "no such endpoint: {:?}; the accepted paths end in {}",
                    self.path.as_deref().unwrap_or(""),
                    tracking_api::ACCEPTED_PATHS
                ),
            ));
        };
        let text = decode_http_body(self).map_err(|e| match e {
            BodyError::TooLarge => Refusal::Status(413, e.to_string()),
            BodyError::Bad(why) => Refusal::Status(400, why),
        })?;
        Ok(Accepted { endpoint, text })
    }

    /// The rest of the door: JSON (`400`), write key (`401`), shape (`400`), then the events
    /// into `items`, with the fields added on receipt when the configuration asks for them.
    /// `now_unix_ms` stands in for the arrival time when API Gateway gave none.
    ///
    /// # Errors
    /// [`Refusal`] with the answer; nothing is added to `items` then.
    pub fn collect<'t>(
        &self,
        accepted: &'t Accepted<'_>,
        config: &Config,
        now_unix_ms: i64,
        items: &mut Items<'t>,
    ) -> Result<(), Refusal> {
        let doc = json::parse_lazy(&accepted.text)
            .map_err(|e| Refusal::Status(400, format!("the body is not JSON: {e}")))?;
        if !config.write_keys.is_empty() && !self.authorized(&doc, config) {
            return Err(Refusal::Status(
                401,
                "a valid write key is required (HTTP Basic user name or writeKey)".to_owned(),
            ));
        }
        let receipt = Receipt {
            received_ms: self.time_epoch_ms.unwrap_or(now_unix_ms),
            request_id: &self.request_id,
            source_ip: self.source_ip.as_deref(),
        };
        let receipt = config.receipt_fields.then_some(&receipt);
        let collected = match (accepted.endpoint, doc.into_resolved()) {
            (Endpoint::Single(event_type), Value::Object(mut members)) => {
                tracking_api::set_type(&mut members, event_type);
                tracking_api::remove_write_key(&mut members);
                super::collect_event(Value::Object(members), 0, items, receipt)
            }
            (Endpoint::Single(event_type), other) => Err(Unusable(format!(
                "the body of a {event_type} call must be one event object, found {}",
                other.type_name()
            ))),
            (Endpoint::Batch, Value::Object(mut members)) => {
                if !super::is_batch_object(&members) {
                    tracking_api::remove_write_key(&mut members);
                }
                super::collect(Value::Object(members), 0, items, receipt)
            }
            (Endpoint::Batch, other) => super::collect(other, 0, items, receipt),
        };
        collected.map_err(|u| Refusal::Status(400, u.0))
    }

    /// Whether the request carries one of the write keys, as the HTTP Basic user name or as
    /// the body's `writeKey`. Every configured key is compared, in constant time.
    fn authorized(&self, doc: &Value<'_>, config: &Config) -> bool {
        let basic = self.header("authorization").and_then(basic_user);
        let candidates = basic.as_deref().into_iter().chain(body_write_key(doc));
        let mut ok = false;
        for candidate in candidates {
            for key in &config.write_keys {
                ok |= constant_time_eq(candidate.as_bytes(), key.expose().as_bytes());
            }
        }
        ok
    }
}

/// The user name of `Authorization: Basic base64(user:password)` (Segment's convention puts
/// the write key there with an empty password; without the colon, the whole text).
fn basic_user(header: &str) -> Option<String> {
    let (scheme, creds) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(creds.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
    Some(user.to_owned())
}

/// Compares without stopping at the first difference (the length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_with(body: &[u8], gzip: bool) -> HttpRequest<'static> {
        let mut bytes = body.to_vec();
        if gzip {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            bytes = e.finish().unwrap();
        }
        HttpRequest {
            version: HttpVersion::V2,
            method: "POST".into(),
            headers: if gzip {
                vec![("Content-Encoding".into(), "GZIP".into())]
            } else {
                vec![]
            },
            body: Some(
                base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .into(),
            ),
            is_base64: true,
            request_id: "r".into(),
            path: Some("/v1/batch".into()),
            time_epoch_ms: None,
            source_ip: None,
        }
    }

    #[test]
    fn http_bodies_are_base64_and_gzip_decoded() {
        let req = http_with(b"{\"type\":\"track\"}", true);
        assert_eq!(decode_http_body(&req).unwrap(), "{\"type\":\"track\"}");
    }

    #[test]
    fn a_gzip_bomb_is_refused_without_inflating_it_all() {
        let req = http_with(&vec![b'0'; MAX_BODY_BYTES + 1], true);
        assert_eq!(decode_http_body(&req), Err(BodyError::TooLarge));
        let exact = http_with(&vec![b' '; MAX_BODY_BYTES], true);
        assert!(decode_http_body(&exact).is_ok());
    }

    #[test]
    fn bad_bodies_are_refused() {
        let mut req = http_with(b"{}", false);
        req.body = Some("not base64!".into());
        assert!(matches!(decode_http_body(&req), Err(BodyError::Bad(_))));
        let mut req = http_with(&[0xff, 0xfe], false);
        assert!(matches!(decode_http_body(&req), Err(BodyError::Bad(_))));
        req.body = None;
        assert!(matches!(decode_http_body(&req), Err(BodyError::Bad(_))));
        let mut req = http_with(b"{}", false);
        req.headers.push(("content-encoding".into(), "br".into()));
        assert!(matches!(decode_http_body(&req), Err(BodyError::Bad(_))));
    }

    #[test]
    fn basic_user_is_the_text_before_the_first_colon() {
        let enc = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert_eq!(basic_user(&enc("key:")).as_deref(), Some("key"));
        assert_eq!(basic_user(&enc("key:pw:x")).as_deref(), Some("key"));
        assert_eq!(basic_user(&enc("key")).as_deref(), Some("key"));
        assert_eq!(basic_user("Bearer x"), None);
        assert_eq!(basic_user("basic !!!"), None);
    }
}
