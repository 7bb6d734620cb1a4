//! What the function answers, per door (SPEC 5): the SQS batch response, the API Gateway proxy
//! response with its CORS headers, and the direct-invoke summary, as the JSON Lambda returns.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};
use aws_lambda_events::http::{self, header::CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::json;
use crate::source::tracking_api;
use crate::source::HttpVersion;

/// What the handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `{"batchItemFailures": [...]}` with the failed message ids, in record order.
    Sqs(Vec<String>),
    /// An API Gateway proxy response; `body` is JSON text (empty for a 204).
    Http {
        /// Payload format of the request.
        version: HttpVersion,
        /// HTTP status.
        status: u16,
        /// The JSON body.
        body: String,
        /// Headers besides `Content-Type`: the CORS headers (SPEC 10.4).
        headers: Vec<(&'static str, String)>,
    },
    /// The direct-invoke summary.
    Summary(Summary),
}

/// The counts of one successful invocation (SPEC 5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// Valid events.
    pub events: usize,
    /// Rows written.
    pub rows: usize,
    /// Events no mapping took.
    pub filtered: usize,
    /// Rejected items.
    pub rejected: usize,
    /// Rows with a Parquet cell that did not convert (issue 14); in the JSON only when not 0.
    pub conversion_errors: usize,
    /// Keys written, in planned order.
    pub objects: Vec<String>,
}

impl Summary {
    /// `{"ok": true, "events": N, ...}` as compact JSON.
    pub fn to_json(&self) -> String {
        let mut s = format!(
            "{{\"ok\":true,\"events\":{},\"rows\":{},\"filtered\":{},\"rejected\":{},",
            self.events, self.rows, self.filtered, self.rejected
        );
        if self.conversion_errors > 0 {
            s.push_str(&format!(
                "\"conversion_errors\":{},",
                self.conversion_errors
            ));
        }
        s.push_str("\"objects\":[");
        for (i, k) in self.objects.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json::write_string(k, &mut s);
        }
        s.push_str("]}");
        s
    }
}

impl Response {
    /// The response as the JSON document Lambda returns, through `aws_lambda_events`' response
    /// types: `SqsBatchResponse`, `ApiGatewayV2httpResponse` (payload 2.0) and
    /// `ApiGatewayProxyResponse` (1.0). Header names go out in lower case.
    ///
    /// # Errors
    /// [`ResponseError`] for a header that HTTP cannot carry (a preflight echoes the request's
    /// `Access-Control-Request-Headers`).
    pub fn to_json(&self) -> Result<String, ResponseError> {
        match self {
            Response::Sqs(failures) => {
                let mut r = SqsBatchResponse::default();
                r.batch_item_failures = failures
                    .iter()
                    .map(|id| {
                        let mut f = BatchItemFailure::default();
                        f.item_identifier.clone_from(id);
                        f
                    })
                    .collect();
                Ok(serde_json::to_string(&r)?)
            }
            Response::Http {
                version,
                status,
                body,
                headers,
            } => {
                let mut map = HeaderMap::new();
                if !body.is_empty() {
                    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                for (name, value) in headers {
                    let header = |e: http::Error| ResponseError::Header {
                        name: (*name).to_owned(),
                        source: e,
                    };
                    let n =
                        HeaderName::from_bytes(name.as_bytes()).map_err(|e| header(e.into()))?;
                    let v = HeaderValue::from_str(value).map_err(|e| header(e.into()))?;
                    map.append(n, v);
                }
                let body = (!body.is_empty()).then(|| Body::Text(body.clone()));
                let status_code = i64::from(*status);
                Ok(match version {
                    HttpVersion::V2 => {
                        let mut r = ApiGatewayV2httpResponse::default();
                        (r.status_code, r.headers, r.body) = (status_code, map, body);
                        serde_json::to_string(&r)?
                    }
                    HttpVersion::V1 => {
                        let mut r = ApiGatewayProxyResponse::default();
                        (r.status_code, r.headers, r.body) = (status_code, map, body);
                        serde_json::to_string(&r)?
                    }
                })
            }
            Response::Summary(summary) => Ok(summary.to_json()),
        }
    }

    /// An API Gateway answer with `Access-Control-Allow-Origin: *` (SPEC 10.4).
    pub fn http(version: HttpVersion, status: u16, body: String) -> Response {
        Response::Http {
            version,
            status,
            body,
            headers: vec![(
                tracking_api::ALLOW_ORIGIN.0,
                tracking_api::ALLOW_ORIGIN.1.to_owned(),
            )],
        }
    }

    /// An API Gateway refusal: `{"ok": false, "error": why, ...}` with the status.
    pub fn refusal(version: HttpVersion, status: u16, why: &str) -> Response {
        Response::http(version, status, refusal_body(status, why))
    }
}

/// `{"ok": false, "error": why}` (SPEC 9), with `code` and `message` as Segment's API answers:
/// analytics-python reads both from any non-200 body and retries, instead of dropping a
/// refused batch, when they are missing.
fn refusal_body(status: u16, why: &str) -> String {
    let code = match status {
        400 => "bad_request",
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        _ => "unavailable",
    };
    let mut body = String::from("{\"ok\":false,\"error\":");
    json::write_string(why, &mut body);
    body.push_str(",\"code\":\"");
    body.push_str(code);
    body.push_str("\",\"message\":");
    json::write_string(why, &mut body);
    body.push('}');
    body
}

/// Why an invocation failed as a whole (the direct-invoke error, or an SQS payload that could
/// not be read at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The payload cannot be used.
    #[error("unusable payload: {0}")]
    Payload(String),
    /// Some objects were not stored.
    #[error("{0}")]
    Write(String),
}

/// Why a response cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// A header name or value that HTTP cannot carry.
    #[error("the response header {name:?} cannot be sent")]
    Header {
        /// The header's name.
        name: String,
        /// What `http` found wrong.
        #[source]
        source: http::Error,
    },
    /// The JSON encoder failed.
    #[error("the response does not encode as JSON")]
    Json(#[from] serde_json::Error),
}

/// An error and its sources on one line, `outer: inner: innermost`, for answers and logs.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_json_with_segments_code_and_message_and_any_origin() {
        let r = Response::refusal(HttpVersion::V2, 401, "no \"key\"");
        let doc: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(doc["statusCode"], 401);
        assert_eq!(doc["headers"]["content-type"], "application/json");
        assert_eq!(doc["headers"]["access-control-allow-origin"], "*");
        let body: serde_json::Value = serde_json::from_str(doc["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"ok": false, "error": "no \"key\"", "code": "unauthorized", "message": "no \"key\""})
        );
    }
}
