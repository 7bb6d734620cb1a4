//! The `--dry-run DIR` sink: each object becomes the file `DIR/<key>`.
//!
//! Keys are checked before they touch the file system: an absolute key or one with an empty,
//! `.` or `..` segment is refused, so nothing is written outside DIR.

use std::path::PathBuf;

use super::PlannedObject;
use super::{ErrorClass, ObjectSink, SinkError};

/// Writes objects as files under a directory.
#[derive(Debug, Clone)]
pub struct DirSink {
    root: PathBuf,
}

impl DirSink {
    /// A sink writing under `root` (created as needed).
    pub fn new(root: impl Into<PathBuf>) -> DirSink {
        DirSink { root: root.into() }
    }

    /// `DIR/<key>`: empty segments (a leading `/`, `//`) collapse as they do in a path; a key
    /// with a `.` or `..` segment, or a backslash, is refused.
    fn path_of(&self, key: &str) -> Result<PathBuf, String> {
        if key.contains('\\') || key.split('/').any(|s| s == "." || s == "..") {
            return Err("the key would leave the dry-run directory".to_owned());
        }
        let mut path = self.root.clone();
        let mut any = false;
        for seg in key.split('/').filter(|s| !s.is_empty()) {
            path.push(seg);
            any = true;
        }
        if !any || key.ends_with('/') {
            return Err("the key does not name a file".to_owned());
        }
        Ok(path)
    }
}

impl ObjectSink for DirSink {
    async fn put(&self, object: &PlannedObject) -> Result<(), SinkError> {
        let fail = |message: String| SinkError::new(&object.key, ErrorClass::Permanent, message);
        let io = |e: std::io::Error| fail(e.to_string()).caused_by(e);
        let path = self.path_of(&object.key).map_err(fail)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, &object.body).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_directory() {
        let s = DirSink::new("/tmp/x");
        for bad in ["../a", "a/../b", "./a", "", "/", "a/", "a\\..\\b"] {
            assert!(s.path_of(bad).is_err(), "{bad}");
        }
        assert_eq!(
            s.path_of("a/b.csv").unwrap(),
            PathBuf::from("/tmp/x/a/b.csv")
        );
        // A leading "/" or "//" in a key (an error_prefix used as written) stays inside DIR.
        assert_eq!(
            s.path_of("/etc//passwd").unwrap(),
            PathBuf::from("/tmp/x/etc/passwd")
        );
    }
}
