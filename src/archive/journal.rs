//! The archive's list of what it holds: one line per message, appended
//! and flushed to disk once the message's bytes are safely in place, and
//! read back on the next run. The manifest (`manifest.csv`,
//! `manifest.json`) is written from it at the end of every run.

use super::{files, write_atomic, ArchiveError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One message in the archive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestRow {
    /// The folder at the source (display form).
    pub folder: String,
    /// The file that holds it, relative to the archive.
    pub file: String,
    /// For an mbox: where the (quoted) message starts in the file.
    pub offset: Option<u64>,
    /// For an mbox: its length, quoted, in the file; the next message's
    /// entry starts after it, its line end if it had none, and a blank line.
    pub length: Option<u64>,
    /// For an mbox: the file's length once this message was written.
    pub end: Option<u64>,
    /// The source folder's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The message's UID at the source.
    pub uid: u32,
    /// Message-ID, if it has one.
    pub message_id: Option<String>,
    /// Subject, decoded for reading.
    pub subject: Option<String>,
    /// From, decoded for reading.
    pub from: Option<String>,
    /// The Date header as written.
    pub date_header: Option<String>,
    /// INTERNALDATE as unix seconds (UTC).
    pub date: Option<i64>,
    /// INTERNALDATE as the server sent it (IMAP syntax).
    pub internal_date: Option<String>,
    /// Flags and keywords, as the server listed them.
    pub flags: Vec<String>,
    /// The message's size in bytes, as written.
    pub size: u64,
    /// SHA-256 of the message's bytes (hex), as the server sent them.
    pub sha256: String,
}

/// The journal file, open for appending.
#[derive(Debug)]
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
    /// Every row on record.
    pub rows: Vec<ManifestRow>,
}

impl Journal {
    /// Opens (creating) the journal and reads its rows. A last line that a
    /// crash cut short is cut off: its message was never confirmed.
    pub fn open(path: &Path) -> Result<Journal, ArchiveError> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(files("open", path))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(files("read", path))?;
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        if whole < text.len() {
            file.set_len(whole as u64)
                .map_err(files("cut short", path))?;
            file.sync_all().map_err(files("flush to disk", path))?;
        }
        let mut rows = Vec::new();
        for line in text[..whole].split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let row = serde_json::from_slice(line).map_err(|e| {
                ArchiveError::Unusable(format!(
                    "the archive's list {} has a line that cannot be read ({e})",
                    path.display()
                ))
            })?;
            rows.push(row);
        }
        file.seek(SeekFrom::End(0)).map_err(files("read", path))?;
        Ok(Journal {
            file,
            path: path.to_owned(),
            rows,
        })
    }

    /// Appends rows and flushes them to disk.
    pub fn append(&mut self, rows: Vec<ManifestRow>) -> Result<(), ArchiveError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut text = Vec::new();
        for row in &rows {
            serde_json::to_writer(&mut text, row).expect("a row always serialises");
            text.push(b'\n');
        }
        self.file
            .write_all(&text)
            .map_err(files("write", &self.path))?;
        self.file
            .sync_data()
            .map_err(files("flush to disk", &self.path))?;
        self.rows.extend(rows);
        Ok(())
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The manifest as CSV: folder, file, Message-ID, subject, from, date
/// (RFC 3339, UTC), flags (space-separated), size, SHA-256, then where an
/// mbox holds it and the source UID.
pub fn manifest_csv(rows: &[ManifestRow]) -> String {
    let mut out =
        String::from("folder,file,message_id,subject,from,date,flags,size,sha256,offset,length,uidvalidity,uid\n");
    for r in rows {
        let date = r
            .date
            .and_then(|d| chrono::DateTime::from_timestamp(d, 0))
            .map(|d| d.to_rfc3339())
            .unwrap_or_default();
        let fields = [
            r.folder.clone(),
            r.file.clone(),
            r.message_id.clone().unwrap_or_default(),
            r.subject.clone().unwrap_or_default(),
            r.from.clone().unwrap_or_default(),
            date,
            r.flags.join(" "),
            r.size.to_string(),
            r.sha256.clone(),
            r.offset.map(|o| o.to_string()).unwrap_or_default(),
            r.length.map(|o| o.to_string()).unwrap_or_default(),
            r.uidvalidity.to_string(),
            r.uid.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Writes `manifest.csv` and `manifest.json` in `dir`, each in one piece.
pub fn write_manifest(dir: &Path, rows: &[ManifestRow]) -> Result<(), ArchiveError> {
    write_atomic(
        &dir.join("manifest.csv"),
        manifest_csv(rows).as_bytes(),
        None,
    )?;
    let json = serde_json::to_vec_pretty(rows).expect("rows always serialise");
    write_atomic(&dir.join("manifest.json"), &json, None)
}

/// Reads `manifest.json` in `dir`, if the archive has one.
pub fn read_manifest(dir: &Path) -> Result<Option<Vec<ManifestRow>>, ArchiveError> {
    let path = dir.join("manifest.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ArchiveError::Unusable(format!("cannot read {} ({e})", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(files("read", &path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(uid: u32) -> ManifestRow {
        ManifestRow {
            folder: "INBOX".into(),
            file: "INBOX.mbox".into(),
            offset: Some(0),
            length: Some(10),
            end: Some(40),
            uidvalidity: 7,
            uid,
            message_id: Some("<a@b>".into()),
            subject: Some("Hello, \"world\"".into()),
            from: None,
            date_header: None,
            date: Some(0),
            internal_date: None,
            flags: vec!["\\Seen".into(), "$Work".into()],
            size: 10,
            sha256: "ab".into(),
        }
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut j = Journal::open(&path).unwrap();
        j.append(vec![row(1), row(2)]).unwrap();
        drop(j);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"folder\":\"INB").unwrap();
        drop(f);
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.rows, vec![row(1), row(2)]);
        j.append(vec![row(3)]).unwrap();
        assert_eq!(Journal::open(&path).unwrap().rows.len(), 3);
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let csv = manifest_csv(&[row(1)]);
        let line = csv.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "INBOX,INBOX.mbox,<a@b>,\"Hello, \"\"world\"\"\",,1970-01-01T00:00:00+00:00,\\Seen $Work,10,ab,0,10,7,1"
        );
    }
}
