//! `--resume FILE`: the objects a previous run completed.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::*;

/// The objects a previous run completed (`--resume FILE`): one line each, `name\tsize\tversion`.
pub struct ResumeFile {
    path: PathBuf,
    done: HashSet<String>,
    out: Mutex<std::fs::File>,
}

impl ResumeFile {
    /// Opens (or creates) the file and reads what it lists.
    ///
    /// # Errors
    /// [`BackfillError::Resume`] when it cannot be read or opened for appending.
    pub fn open(path: &Path) -> Result<ResumeFile, BackfillError> {
        let fail = |source| BackfillError::Resume {
            path: path.display().to_string(),
            source,
        };
        let done = match std::fs::read_to_string(path) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(fail(e)),
        };
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
        Ok(ResumeFile {
            path: path.to_owned(),
            done,
            out: Mutex::new(out),
        })
    }

    fn line(o: &SourceObject) -> String {
        format!("{}\t{}\t{}", o.name, o.size, o.version)
    }

    /// Whether a previous run completed this object, unchanged since.
    pub fn is_done(&self, o: &SourceObject) -> bool {
        self.done.contains(&Self::line(o))
    }

    /// Records a completed object (flushed at once, so an interrupted run loses none).
    ///
    /// # Errors
    /// [`BackfillError::Resume`] when the line cannot be written.
    pub fn record(&self, o: &SourceObject) -> Result<(), BackfillError> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| BackfillError::Usage("the resume file's lock is poisoned".to_owned()))?;
        writeln!(out, "{}", Self::line(o))
            .and_then(|()| out.flush())
            .map_err(|source| BackfillError::Resume {
                path: self.path.display().to_string(),
                source,
            })
    }
}
