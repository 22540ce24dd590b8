//! A Microsoft 365 mailbox as the source: its contact folders (and the
//! default Contacts folder) and calendars as collections, each contact
//! read as a vCard 4 (its photo inline) and each event as an iCalendar
//! object (a series master with its removed and changed occurrences as
//! one object), read page by page.

use super::client::Graph;
use super::copy::SOURCE_UID;
use super::{contact, event};
use crate::dav::object::ObjectKind;
use crate::dav::{Collection, DavError, Entry};
use serde_json::Value;

/// How long ahead a series without end is read for its changed occurrences.
const OPEN_SERIES_YEARS: i64 = 5;

fn expand() -> String {
    let value = format!("singleValueExtendedProperties($filter=id eq '{SOURCE_UID}')");
    format!("$expand={}", crate::auth::oauth::percent_encode(&value))
}

/// The UID of an item: the one MailFerry kept (a copy made from another
/// server), else Graph's iCalendar UID (events), else its id.
fn uid_of(item: &Value) -> String {
    item["singleValueExtendedProperties"]
        .as_array()
        .and_then(|a| a.iter().find_map(|p| p["value"].as_str()))
        .or_else(|| item["iCalUId"].as_str())
        .or_else(|| item["id"].as_str())
        .unwrap_or_default()
        .to_owned()
}

impl Graph {
    /// The mailbox's contact folders (the default one first) and calendars.
    pub fn collections(&self) -> Result<Vec<Collection>, DavError> {
        Ok(super::copy::places(self)?
            .into_iter()
            .map(|p| Collection {
                components: match p.kind {
                    ObjectKind::Calendar => vec!["VEVENT".into()],
                    ObjectKind::Contact => Vec::new(),
                },
                href: p.href,
                kind: p.kind,
                name: p.name,
            })
            .collect())
    }

    /// The items of a folder or calendar: `/contacts/{id}` or
    /// `/events/{id}`, each with its change key as ETag.
    pub fn entries(&self, collection: &str) -> Result<Vec<Entry>, DavError> {
        let (items, prefix) = if collection.starts_with("/calendars/") {
            (format!("{collection}/events"), "/events/")
        } else if collection == "/contacts" {
            ("/contacts".to_owned(), "/contacts/")
        } else {
            (format!("{collection}/contacts"), "/contacts/")
        };
        let mut out: Vec<Entry> = self
            .list(&format!("{items}?$top=100&$select=id,changeKey"))?
            .iter()
            .filter_map(|i| {
                Some(Entry {
                    href: format!("{prefix}{}", i["id"].as_str()?),
                    etag: i["changeKey"]
                        .as_str()
                        .or_else(|| i["@odata.etag"].as_str())
                        .map(str::to_owned),
                })
            })
            .collect();
        out.sort_by(|a, b| a.href.cmp(&b.href));
        Ok(out)
    }

    /// One item as a vCard 4 or an iCalendar object; None when gone.
    pub fn object(&self, href: &str) -> Result<Option<Vec<u8>>, DavError> {
        if href.starts_with("/contacts/") {
            let Some(c) = self.get(&format!("{href}?{}", expand()))? else {
                return Ok(None);
            };
            let photo = self.get_bytes(&format!("{href}/photo/$value"))?;
            return Ok(Some(contact::from_graph(&c, &uid_of(&c), photo.as_deref())));
        }
        // Times in the zone the event was made in, not Graph's default UTC.
        let Some(first) = self.get(&format!("{href}?$select=originalStartTimeZone"))? else {
            return Ok(None);
        };
        // A zone this computer cannot describe (VTIMEZONE) is read in UTC.
        let zone = first["originalStartTimeZone"]
            .as_str()
            .filter(|z| !z.is_empty() && super::time::vtimezone(z).is_some())
            .unwrap_or("UTC")
            .to_owned();
        let prefer = format!("outlook.timezone=\"{zone}\"");
        let headers = [("Prefer", prefer.as_str())];
        let Some(master) = self.get_with(&format!("{href}?{}", expand()), &headers)? else {
            return Ok(None);
        };
        let mut instances = Vec::new();
        if master["type"] == "seriesMaster" {
            let range = &master["recurrence"]["range"];
            let start = range["startDate"].as_str().unwrap_or("1970-01-01");
            let end = match range["endDate"]
                .as_str()
                .filter(|_| range["type"] == "endDate")
            {
                Some(e) => e.to_owned(),
                None => {
                    let from =
                        chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap_or_default();
                    let years = if range["type"] == "numbered" {
                        // At most one a day: the count in days bounds it.
                        range["numberOfOccurrences"].as_i64().unwrap_or(0) / 365 + 2
                    } else {
                        OPEN_SERIES_YEARS
                    };
                    (from + chrono::Duration::days(366 * years.min(50)))
                        .format("%Y-%m-%d")
                        .to_string()
                }
            };
            instances = self.list_with(
                &format!(
                    "{href}/instances?startDateTime={start}T00:00:00Z&endDateTime={end}T23:59:59Z&$top=100"
                ),
                &headers,
            )?;
        }
        Ok(Some(event::from_graph(
            &master,
            &uid_of(&master),
            &instances,
        )))
    }
}
