//! The forensic log search: finds messages by folder, headers, date, fate or the server's words, across the `messages`, `folders` and `dest_folders` tables.

use super::columns::{to_u32, to_u64, RawSummary};
use super::fates::RawFate;
use super::{LogEntry, Result, State};
use crate::identity::Summary;

impl State {
    /// Searches the forensic log: every word of `text` must appear
    /// (case-insensitively for ASCII) in the source or destination folder,
    /// Message-ID, From, Subject, Date header, INTERNALDATE (as
    /// `YYYY-MM-DD`), fate, reason or server text. Month names are matched by
    /// their English abbreviation, so "march" finds `Date: … Mar 2024`.
    /// At most `limit` entries, oldest INTERNALDATE first.
    pub fn search_log(&self, text: &str, limit: usize) -> Result<Vec<LogEntry>> {
        let terms: Vec<String> = text
            .split_whitespace()
            .map(|t| like_pattern(&month_abbreviation(t)))
            .collect();
        let mut cond = String::from("1");
        for i in 0..terms.len() {
            cond.push_str(&format!(" AND haystack LIKE ?{} ESCAPE '\\'", i + 1));
        }
        let query = format!(
            "SELECT * FROM (
                 SELECT f.source_name, m.source_uidvalidity, m.source_uid, d.name, m.dest_uid,
                     m.fate, m.reason, m.server_text, m.attempts,
                     m.message_id, m.from_addr, m.subject, m.date_header, m.internaldate,
                     m.size, m.updated_at,
                     f.source_name || ' ' || COALESCE(d.name, '') || ' ' ||
                     COALESCE(m.message_id, '') || ' ' || COALESCE(m.from_addr, '') || ' ' ||
                     COALESCE(m.subject, '') || ' ' || COALESCE(m.date_header, '') || ' ' ||
                     COALESCE(strftime('%Y-%m-%d', m.internaldate, 'unixepoch'), '') || ' ' ||
                     m.fate || ' ' || COALESCE(m.reason, '') || ' ' ||
                     COALESCE(m.server_text, '') AS haystack
                 FROM messages m JOIN folders f ON f.id = m.folder_id
                 LEFT JOIN dest_folders d ON d.id = m.dest_folder_id)
             WHERE {cond}
             ORDER BY internaldate, source_name, source_uid
             LIMIT {limit}"
        );
        let mut stmt = self.conn.prepare(&query).map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(terms.iter()), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    RawFate::read(r, 5)?,
                    RawSummary::read(r, 9)?,
                    r.get::<_, Option<i64>>(13)?,
                    r.get::<_, i64>(14)?,
                    r.get::<_, i64>(15)?,
                ))
            })
            .map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (folder, uv, uid, dest, dest_uid, fate, s, internaldate, size, updated_at) =
                row.map_err(|e| self.sql(e))?;
            let s: Summary = s.into();
            out.push(LogEntry {
                source_folder: folder,
                uidvalidity: to_u32(uv, "messages.source_uidvalidity")?,
                uid: to_u32(uid, "messages.source_uid")?,
                dest_folder: dest,
                dest_uid: dest_uid
                    .map(|u| to_u32(u, "messages.dest_uid"))
                    .transpose()?,
                fate: fate.decode()?,
                message_id: s.message_id,
                from: s.from,
                subject: s.subject,
                date: s.date,
                internaldate,
                size: to_u64(size, "messages.size")?,
                updated_at,
            });
        }
        Ok(out)
    }
}

/// A LIKE pattern matching `term` anywhere, with `%`, `_` and `\` escaped.
fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// English month names become the three-letter form RFC 5322 dates use.
fn month_abbreviation(term: &str) -> String {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = term.to_ascii_lowercase();
    if lower.len() > 3 && MONTHS.iter().any(|m| m.starts_with(&lower)) {
        return lower[..3].to_owned();
    }
    term.to_owned()
}
