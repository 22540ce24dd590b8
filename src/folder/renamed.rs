//! Folders renamed at the old server between runs: which ones (paired by
//! their MAILBOXID, RFC 8474), and what became of their copies at the new
//! server, in words. Pure: the I/O is the job's (`job::rename`).

use serde::Serialize;

/// A source folder renamed at the old server since an earlier run, and
/// what was done about it. Its progress (what was copied, and where) goes
/// on under the new name: nothing is copied twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Renamed {
    /// Its name before (display form).
    pub from: String,
    /// Its name now.
    pub to: String,
    /// What became of its copies at the new server.
    pub copies: Copies,
}

/// What became of a renamed folder's copies at the new server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Copies {
    /// The folder they are in was renamed to match (IMAP RENAME, which
    /// takes the folders inside it along).
    Renamed {
        /// The destination folder's name before.
        from: String,
        /// Its name now.
        to: String,
    },
    /// Their folder was renamed with the folder it is in (see
    /// [`Copies::Renamed`] on that one).
    RenamedWithParent {
        /// The destination folder's name now.
        to: String,
    },
    /// Nothing renamed: the folder the new name maps to is there already.
    /// The mail goes into it, and the earlier copies stay where they are.
    TargetExists {
        /// Where the folder's mail goes now.
        target: String,
        /// Where the earlier copies are.
        stays_in: String,
    },
    /// After the switch nothing is renamed at the new server: the mail
    /// keeps going to the folder it went to before.
    KeptAfterSwitch {
        /// That folder.
        into: String,
    },
    /// The new server refused the rename; the mail goes to the folder the
    /// new name maps to, the earlier copies stay where they are.
    RenameRefused {
        /// Where the folder's mail goes now.
        target: String,
        /// Where the earlier copies are.
        stays_in: String,
        /// The server's words.
        said: String,
    },
    /// The folder the earlier copies went to is no longer at the new
    /// server: nothing to rename; the mail goes where the new name maps to.
    CopiesGone {
        /// Where the folder's mail goes now.
        target: String,
        /// The folder that is gone.
        was_in: String,
    },
    /// Nothing to do at the new server: the copies are where the new name
    /// maps to already, or the folder is not copied.
    InPlace,
}

impl Renamed {
    /// Did this rename change a folder's name at the new server?
    pub fn renamed_at_destination(&self) -> bool {
        matches!(self.copies, Copies::Renamed { .. })
    }

    /// In plain words, for the report and the events.
    pub fn describe(&self) -> String {
        let (from, to) = (&self.from, &self.to);
        let seen = format!("“{from}” was renamed “{to}” at the old server");
        match &self.copies {
            Copies::Renamed { .. } | Copies::RenamedWithParent { .. } => {
                format!("{seen}; its copies were renamed to match at the new server")
            }
            Copies::TargetExists { target, stays_in } => format!(
                "{seen}; “{target}” was already at the new server, so nothing was renamed there: \
                 its mail goes into “{target}” and the earlier copies stay in “{stays_in}”"
            ),
            Copies::KeptAfterSwitch { into } => format!(
                "{seen}; after the switch nothing is renamed at the new server, so its mail \
                 keeps going to “{into}” there"
            ),
            Copies::RenameRefused {
                target,
                stays_in,
                said,
            } => format!(
                "{seen}; the new server refused to rename “{stays_in}” to match ({said}), so \
                 its mail goes into “{target}” and the earlier copies stay in “{stays_in}”"
            ),
            Copies::CopiesGone { target, was_in } => format!(
                "{seen}; “{was_in}”, where its earlier copies went, is no longer at the new \
                 server, so its mail goes into “{target}”"
            ),
            Copies::InPlace => format!("{seen}; nothing needed changing at the new server"),
        }
    }
}

/// Pairs folders on record that are no longer listed (`gone`: name and
/// recorded MAILBOXID) with listed folders not on record (`new`: name and
/// the id the server gave now, if any): the same id is the same folder,
/// renamed. An id found twice on either side pairs nothing. Parents come
/// before the folders inside them (shorter old names first).
pub fn pair_by_id<'a>(
    gone: &[(&'a str, &'a str)],
    new: &[(&'a str, Option<&str>)],
) -> Vec<(&'a str, &'a str)> {
    let once = |id: &str| {
        gone.iter().filter(|(_, g)| *g == id).count() == 1
            && new.iter().filter(|(_, n)| *n == Some(id)).count() == 1
    };
    let mut pairs: Vec<(&str, &str)> = gone
        .iter()
        .filter(|(_, id)| once(id))
        .filter_map(|(old, id)| {
            new.iter()
                .find(|(_, n)| *n == Some(*id))
                .map(|(name, _)| (*old, *name))
        })
        .collect();
    pairs.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(b.0)));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_paired_by_id_parents_first() {
        let gone = [
            ("A/x", "id2"),
            ("A", "id1"),
            ("Old", "id3"),
            ("Twice", "id4"),
        ];
        let new = [
            ("B", Some("id1")),
            ("B/x", Some("id2")),
            ("Fresh", None),
            ("Other", Some("id9")),
            ("T1", Some("id4")),
            ("T2", Some("id4")),
        ];
        assert_eq!(
            pair_by_id(&gone, &new),
            vec![("A", "B"), ("A/x", "B/x")],
            "Old has no match; id4 is claimed twice, so it pairs nothing"
        );
        assert!(pair_by_id(&[], &new).is_empty());
        assert!(pair_by_id(&gone, &[]).is_empty());
    }

    #[test]
    fn a_rename_is_said_plainly() {
        let r = Renamed {
            from: "A".into(),
            to: "B".into(),
            copies: Copies::Renamed {
                from: "A".into(),
                to: "B".into(),
            },
        };
        assert!(r.renamed_at_destination());
        assert_eq!(
            r.describe(),
            "“A” was renamed “B” at the old server; its copies were renamed to match at the new server"
        );
        let kept = Renamed {
            copies: Copies::KeptAfterSwitch { into: "A".into() },
            ..r
        };
        assert!(!kept.renamed_at_destination());
        assert!(
            kept.describe().contains("keeps going to “A”"),
            "{}",
            kept.describe()
        );
    }
}
