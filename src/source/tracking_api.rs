//! Segment's HTTP Tracking API, as the function's API Gateway front door speaks it (SPEC 10).
//!
//! Each Segment library posts to its own path: analytics.js to `/v1/t`, `/v1/p`, ... (one event
//! each) or `/v1/b`; the server libraries to `/v1/batch`; ruby and java to `/v1/import`; the
//! mobile libraries to `/v1/b`. The request path's last segment picks the endpoint, so a stage
//! name or a custom domain's base path in front of it does not matter. This module names the
//! endpoints, prepares a single-event body (its type from the path, its `writeKey` removed) and
//! lists the CORS headers of SPEC 10.4. It does no I/O.
//!
//! See <https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/>.

use std::borrow::Cow;

use crate::json::Value;

/// What a request path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `batch`, `import` or `b`: a batch object, an array of events or one event.
    Batch,
    /// `track`/`t`, `identify`/`i`, ...: one event whose type is the path's.
    Single(&'static str),
}

/// The accepted paths, for the 404 answer.
pub const ACCEPTED_PATHS: &str = "/v1/batch, /v1/import, /v1/b, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias, /v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a";

impl Endpoint {
    /// The endpoint named by the last segment of `path`, one trailing `/` ignored.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let last = path.rsplit('/').next().unwrap_or(path);
        Some(match last {
            "batch" | "import" | "b" => Endpoint::Batch,
            "track" | "t" => Endpoint::Single("track"),
            "identify" | "i" => Endpoint::Single("identify"),
            "page" | "p" => Endpoint::Single("page"),
            "screen" | "s" => Endpoint::Single("screen"),
            "group" | "g" => Endpoint::Single("group"),
            "alias" | "a" => Endpoint::Single("alias"),
            _ => return None,
        })
    }
}

/// Sets a single event's `type` to `event_type`: replaced in place when present (every
/// occurrence, so that no reader sees the old one), added after the other members when absent.
pub fn set_type<'a>(members: &mut Vec<(Cow<'a, str>, Value<'a>)>, event_type: &'static str) {
    let mut found = false;
    for (k, v) in members.iter_mut() {
        if k == "type" {
            *v = Value::String(Cow::Borrowed(event_type));
            found = true;
        }
    }
    if !found {
        members.push((
            Cow::Borrowed("type"),
            Value::String(Cow::Borrowed(event_type)),
        ));
    }
}

/// Removes a single event's top-level `writeKey`: a credential, not data (SPEC 10.1).
pub fn remove_write_key(members: &mut Vec<(Cow<'_, str>, Value<'_>)>) {
    members.retain(|(k, _)| k != "writeKey");
}

/// `Access-Control-Allow-Origin`, on every API Gateway response.
pub const ALLOW_ORIGIN: (&str, &str) = ("Access-Control-Allow-Origin", "*");

/// Headers allowed in a preflight that names none.
pub const DEFAULT_ALLOW_HEADERS: &str = "content-type, authorization";

/// The headers of the answer to a CORS preflight (SPEC 10.4): the requested headers are echoed.
pub fn preflight_headers(requested: Option<&str>) -> Vec<(&'static str, String)> {
    let allow_headers = requested
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or(DEFAULT_ALLOW_HEADERS);
    vec![
        (ALLOW_ORIGIN.0, ALLOW_ORIGIN.1.to_owned()),
        ("Access-Control-Allow-Methods", "POST, OPTIONS".to_owned()),
        ("Access-Control-Allow-Headers", allow_headers.to_owned()),
        ("Access-Control-Max-Age", "86400".to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn the_last_segment_picks_the_endpoint() {
        for (path, want) in [
            ("/v1/batch", Some(Endpoint::Batch)),
            ("/v1/import/", Some(Endpoint::Batch)),
            ("/prod/v1/b", Some(Endpoint::Batch)),
            ("/v1/t", Some(Endpoint::Single("track"))),
            ("/v1/track", Some(Endpoint::Single("track"))),
            ("/collect/v1/i", Some(Endpoint::Single("identify"))),
            ("/v1/p", Some(Endpoint::Single("page"))),
            ("/v1/s", Some(Endpoint::Single("screen"))),
            ("/v1/group", Some(Endpoint::Single("group"))),
            ("/v1/a/", Some(Endpoint::Single("alias"))),
            ("b", Some(Endpoint::Batch)),
            ("/v1/unknown", None),
            ("/v1/batch//", None),
            ("/v1/Batch", None),
            ("/", None),
            ("", None),
        ] {
            assert_eq!(Endpoint::from_path(path), want, "{path}");
        }
    }

    #[test]
    fn a_single_event_gets_the_paths_type_and_loses_its_write_key() {
        let mut v = json::parse(r#"{"type":"track","writeKey":"k","a":1}"#).unwrap();
        let Value::Object(members) = &mut v else {
            panic!()
        };
        set_type(members, "identify");
        remove_write_key(members);
        assert_eq!(json::to_compact(&v), r#"{"type":"identify","a":1}"#);
        let mut v = json::parse(r#"{"a":1}"#).unwrap();
        let Value::Object(members) = &mut v else {
            panic!()
        };
        set_type(members, "page");
        assert_eq!(json::to_compact(&v), r#"{"a":1,"type":"page"}"#);
    }

    #[test]
    fn a_preflight_echoes_the_requested_headers() {
        let h = preflight_headers(Some("content-type,authorization,x-segment-client"));
        assert!(h.contains(&(
            "Access-Control-Allow-Headers",
            "content-type,authorization,x-segment-client".to_owned()
        )));
        let h = preflight_headers(None);
        assert!(h.contains(&(
            "Access-Control-Allow-Headers",
            DEFAULT_ALLOW_HEADERS.to_owned()
        )));
        assert!(h.contains(&("Access-Control-Max-Age", "86400".to_owned())));
    }
}
