//! Where the Classic objects are and which are selected: a folder or an S3 prefix, by source
//! and received day.

use std::path::{Path, PathBuf};

use crate::source::classic::ClassicPath;

use super::*;

/// Where the Classic logs are: a local folder, or an S3 bucket and prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A folder laid out as the bucket is (`.../<source-id>/<received-day>/<file>`).
    Local(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (may be empty).
        prefix: String,
    },
}

impl Origin {
    /// `s3://bucket/prefix` or a local path.
    ///
    /// # Errors
    /// [`BackfillError::Usage`] for `s3://` without a bucket.
    pub fn parse(text: &str) -> Result<Origin, BackfillError> {
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(BackfillError::Usage(format!(
                        "{text}: an S3 source is s3://BUCKET/PREFIX"
                    )));
                }
                Ok(Origin::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                })
            }
            None => Ok(Origin::Local(PathBuf::from(text))),
        }
    }
}

/// Which objects to replay.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this Segment source.
    pub source_id: Option<String>,
    /// Only received days on or after this UTC midnight (ms).
    pub since_ms: Option<i64>,
    /// Only received days on or before this UTC midnight (ms).
    pub until_ms: Option<i64>,
}

impl Selection {
    fn takes(&self, p: &ClassicPath) -> bool {
        self.source_id.as_ref().is_none_or(|s| *s == p.source_id)
            && self.since_ms.is_none_or(|d| p.received_day_ms >= d)
            && self.until_ms.is_none_or(|d| p.received_day_ms <= d)
    }
}

/// `YYYY-MM-DD` as the UTC midnight in ms since the epoch.
///
/// # Errors
/// [`BackfillError::Usage`] for anything else.
pub fn parse_day(text: &str) -> Result<i64, BackfillError> {
    let bad = || BackfillError::Usage(format!("{text:?} is not a date (YYYY-MM-DD)"));
    let mut parts = text.trim().splitn(3, '-');
    let mut next = |len: usize| {
        parts
            .next()
            .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<i64>().ok())
    };
    let (Some(y), Some(m), Some(d)) = (next(4), next(2), next(2)) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * 86_400_000)
}

/// One Classic object to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceObject {
    /// How rejected items and the resume file name it: `s3://bucket/key` or the local path.
    pub name: String,
    /// The S3 key, or the local path.
    pub location: String,
    /// Its place in Classic's layout.
    pub path: ClassicPath,
    /// Its size in bytes as stored.
    pub size: u64,
    /// Its ETag (S3) or modification time (local), to tell a changed object in `--resume`.
    pub version: String,
    /// The S3 version to read (a Batch Operations manifest may name one); the latest if none.
    pub version_id: Option<String>,
}

/// The objects under `origin` that have Classic's layout and that `selection` takes, sorted by
/// received day, source and name; and how many objects did not have the layout.
///
/// # Errors
/// [`BackfillError`] when the folder or the bucket cannot be listed.
pub async fn list(
    origin: &Origin,
    reader: Option<&aws_sdk_s3::Client>,
    selection: &Selection,
) -> Result<(Vec<SourceObject>, usize), BackfillError> {
    let mut found = Vec::new();
    let mut other = 0;
    match origin {
        Origin::Local(root) => {
            let mut files = Vec::new();
            walk(root, &mut files)?;
            for (path, size, modified) in files {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                match ClassicPath::parse(&rel) {
                    Some(p) => found.push(SourceObject {
                        name: path.to_string_lossy().into_owned(),
                        location: path.to_string_lossy().into_owned(),
                        path: p,
                        size,
                        version: modified,
                        version_id: None,
                    }),
                    None => other += 1,
                }
            }
        }
        Origin::S3 { bucket, prefix } => {
            let Some(client) = reader else {
                return Err(BackfillError::Usage("an S3 source needs AWS".to_owned()));
            };
            let mut pages = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| BackfillError::List {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    reason: crate::aws::sdk_reason(&e),
                })?;
                for o in page.contents() {
                    let Some(key) = o.key() else { continue };
                    match ClassicPath::parse(key) {
                        Some(p) => found.push(SourceObject {
                            name: format!("s3://{bucket}/{key}"),
                            location: key.to_owned(),
                            path: p,
                            size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                            version: o.e_tag().unwrap_or_default().to_owned(),
                            version_id: None,
                        }),
                        None => other += 1,
                    }
                }
            }
        }
    }
    found.retain(|o| selection.takes(&o.path));
    found.sort_by(|a, b| {
        (a.path.received_day_ms, &a.path.source_id, &a.name).cmp(&(
            b.path.received_day_ms,
            &b.path.source_id,
            &b.name,
        ))
    });
    Ok((found, other))
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64, String)>) -> Result<(), BackfillError> {
    let io = |source| BackfillError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let meta = entry.metadata().map_err(io)?;
        let path = entry.path();
        if meta.is_dir() {
            walk(&path, out)?;
        } else if meta.is_file() {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or_else(String::new, |d| d.as_millis().to_string());
            out.push((path, meta.len(), modified));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_origins() {
        assert_eq!(parse_day("2015-05-27").unwrap(), 1_432_684_800_000);
        assert_eq!(parse_day("1970-01-01").unwrap(), 0);
        assert_eq!(parse_day("2024-02-29").unwrap(), 1_709_164_800_000);
        for bad in ["2015-5-27", "27-05-2015", "2015-13-01", "yesterday"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Origin::parse("s3://logs/segment-logs/").unwrap(),
            Origin::S3 {
                bucket: "logs".into(),
                prefix: "segment-logs/".into()
            }
        );
        assert!(Origin::parse("s3:///x").is_err());
        assert_eq!(
            Origin::parse("./history").unwrap(),
            Origin::Local(PathBuf::from("./history"))
        );
    }

    #[test]
    fn selection_by_source_and_day() {
        let p = ClassicPath::parse("src_a/1432684800000/f.gz").unwrap();
        let day = 1_432_684_800_000;
        let sel = |s: Option<&str>, since: Option<i64>, until: Option<i64>| Selection {
            source_id: s.map(str::to_owned),
            since_ms: since,
            until_ms: until,
        };
        assert!(sel(None, None, None).takes(&p));
        assert!(sel(Some("src_a"), Some(day), Some(day)).takes(&p));
        assert!(!sel(Some("src_b"), None, None).takes(&p));
        assert!(!sel(None, Some(day + 86_400_000), None).takes(&p));
        assert!(!sel(None, None, Some(day - 86_400_000)).takes(&p));
    }
}
