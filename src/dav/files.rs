//! `.vcf` and `.ics` files: read as a source (each file an address book or
//! a calendar, taken apart into its objects at line boundaries), and
//! written as an export (one file per address book or calendar, which
//! Apple Contacts, Outlook, Thunderbird and every calendar program open).

use super::object::{self, ObjectKind};
use super::{Collection, DavError, Entry};
use std::path::{Path, PathBuf};

/// Contacts and calendars kept in files: a `.vcf`/`.ics` file, or a folder of them.
#[derive(Debug, Clone)]
pub struct Files {
    /// (collection, its objects) in file-name order.
    collections: Vec<(Collection, Vec<Vec<u8>>)>,
}

impl Files {
    /// Reads a `.vcf` or `.ics` file, or every such file of a folder.
    pub fn open(path: &Path) -> Result<Files, DavError> {
        let read_error = |source| DavError::File {
            action: "read",
            path: path.to_owned(),
            source,
        };
        let mut paths: Vec<PathBuf> = if path.is_dir() {
            std::fs::read_dir(path)
                .map_err(read_error)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        } else {
            vec![path.to_owned()]
        };
        paths.sort();
        let mut collections = Vec::new();
        for file in paths {
            let ext = file
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let kind = match ext.as_str() {
                "vcf" | "vcard" => ObjectKind::Contact,
                "ics" | "ical" => ObjectKind::Calendar,
                _ => continue,
            };
            let bytes = std::fs::read(&file).map_err(|source| DavError::File {
                action: "read",
                path: file.clone(),
                source,
            })?;
            let objects = match kind {
                ObjectKind::Contact => object::split_contacts(&bytes),
                ObjectKind::Calendar => object::split_calendar(&bytes),
            };
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let href = file
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            collections.push((
                Collection {
                    href,
                    kind,
                    name,
                    components: Vec::new(),
                },
                objects,
            ));
        }
        Ok(Files { collections })
    }

    /// Every address book and calendar (one per file).
    pub fn collections(&self) -> Vec<Collection> {
        self.collections.iter().map(|(c, _)| c.clone()).collect()
    }

    /// The objects of one file: `file#n`, each with its digest as ETag.
    pub fn list(&self, collection: &str) -> Vec<Entry> {
        self.objects_of(collection)
            .iter()
            .enumerate()
            .map(|(i, bytes)| Entry {
                href: format!("{collection}#{}", i + 1),
                etag: Some(object::digest(bytes)),
            })
            .collect()
    }

    /// One object's bytes.
    pub fn get(&self, href: &str) -> Option<Vec<u8>> {
        let (file, n) = href.rsplit_once('#')?;
        let n: usize = n.parse().ok()?;
        self.objects_of(file).get(n.checked_sub(1)?).cloned()
    }

    fn objects_of(&self, collection: &str) -> &[Vec<u8>] {
        self.collections
            .iter()
            .find(|(c, _)| c.href == collection)
            .map(|(_, o)| o.as_slice())
            .unwrap_or(&[])
    }
}

/// The file name an address book or calendar is exported to: its name
/// with characters no file system accepts replaced, and the extension.
pub fn export_file_name(collection: &Collection, taken: &[String]) -> String {
    let mut stem: String = collection
        .name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect::<String>()
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned();
    if stem.is_empty() {
        stem = collection.segment().to_owned();
    }
    let ext = match collection.kind {
        ObjectKind::Contact => "vcf",
        ObjectKind::Calendar => "ics",
    };
    let mut name = format!("{stem}.{ext}");
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        name = format!("{stem} ({n}).{ext}");
        n += 1;
    }
    name
}

/// Writes one collection's objects as one file in `dir`, whole or not at
/// all (a temp name, fsync, rename).
pub fn write_collection(
    dir: &Path,
    file_name: &str,
    kind: ObjectKind,
    objects: &[Vec<u8>],
) -> Result<PathBuf, DavError> {
    let bytes = match kind {
        ObjectKind::Contact => object::join_contacts(objects),
        ObjectKind::Calendar => object::join_calendar(objects),
    };
    let path = dir.join(file_name);
    std::fs::create_dir_all(dir).map_err(|source| DavError::File {
        action: "create the folder",
        path: dir.to_owned(),
        source,
    })?;
    crate::archive::write_atomic(&path, &bytes, None)?;
    Ok(path)
}
