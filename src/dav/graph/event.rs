//! iCalendar VEVENT ⇄ Microsoft Graph `event`
//! (<https://learn.microsoft.com/graph/api/resources/event>).
//!
//! A calendar object becomes one event, or a series (its RRULE as a
//! `patternedRecurrence`) with its EXDATEs to remove from the series and
//! its RECURRENCE-ID overrides to apply to those occurrences once Graph
//! made them. Times keep their zone (IANA and Windows names as they are);
//! floating times go in the mailbox's own zone; an RRULE Graph cannot
//! express refuses the object with the reason; anything else that cannot
//! carry over is listed, per object, in plain words.

use super::lines::{self, Component, Line};
use super::time::{self, Time};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use serde_json::{json, Map, Value};

/// An occurrence of a series, as Graph will know it.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// Its original start, in UTC as well as the object tells (a floating
    /// or unknown zone counts as UTC: matched within hours, never minutes).
    pub original_utc: NaiveDateTime,
    /// What to change in it (None: remove it from the series).
    pub patch: Option<Value>,
}

/// A calendar object converted.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The event (a single one or a series master) to create.
    pub event: Value,
    /// Occurrences to remove (EXDATE, cancelled overrides) or change.
    pub occurrences: Vec<Occurrence>,
    /// What did not carry over or was changed on the way, in plain words.
    pub losses: Vec<String>,
    /// The start in UTC, when the object says where it is (UTC, or a zone
    /// with its VTIMEZONE); None for floating and all-day times.
    pub start_utc: Option<NaiveDateTime>,
}

/// Why a calendar object holding only to-dos or journal entries stays behind.
pub const TODO_REASON: &str =
    "it is a to-do or a journal entry: Outlook calendars hold events only, so it stays behind";

/// The Graph event of a calendar object, or why it cannot be one.
/// `home_zone` is the mailbox's time zone, for floating and all-day times.
pub fn to_graph(bytes: &[u8], home_zone: &str) -> Result<Converted, String> {
    let cal = lines::tree(bytes).ok_or("it is not a readable calendar entry")?;
    let zones: Vec<&Component> = cal.children("VTIMEZONE").collect();
    let events: Vec<&Component> = cal.children("VEVENT").collect();
    if events.is_empty() {
        return Err(TODO_REASON.to_owned());
    }
    let master = events
        .iter()
        .find(|e| e.get("RECURRENCE-ID").is_none())
        .ok_or("it holds only changed occurrences of a series whose main event is not here")?;
    let mut losses = Vec::new();
    if cal.children("VTODO").next().is_some() || cal.children("VJOURNAL").next().is_some() {
        losses.push("the to-dos in the same entry (Outlook calendars hold events only)".into());
    }
    let conv = Ctx {
        zones: &zones,
        home_zone,
    };
    let mut event = conv.event(master, &mut losses, true)?;
    let start_utc = match master.get("DTSTART").and_then(time::time) {
        Some(t @ Time::Utc(_)) => Some(conv.utc(&t)),
        Some(Time::Zoned(local, tzid)) => conv
            .vtimezone(&tzid)
            .and_then(|z| time::offset_at(z, local))
            .map(|off| local - Duration::seconds(i64::from(off))),
        _ => None,
    };
    let mut occurrences = Vec::new();
    if let Some(rule) = master.get("RRULE") {
        let start = master
            .get("DTSTART")
            .and_then(time::time)
            .ok_or("it has no start")?;
        let zone = conv.zone_of(&start, &mut Vec::new());
        event["recurrence"] = recurrence(&rule.value, &start, &zone)?;
        if master.get("RDATE").is_some() {
            losses.push(
                "extra dates added to the series (RDATE): Outlook series follow their rule only"
                    .into(),
            );
        }
        for ex in master.all("EXDATE") {
            for t in time::times(ex) {
                occurrences.push(Occurrence {
                    original_utc: conv.utc(&t),
                    patch: None,
                });
            }
        }
        for e in events.iter().filter(|e| e.get("RECURRENCE-ID").is_some()) {
            let Some(rid) = e.get("RECURRENCE-ID").and_then(time::time) else {
                continue;
            };
            let cancelled = e
                .get("STATUS")
                .is_some_and(|s| s.value.eq_ignore_ascii_case("CANCELLED"));
            let patch = if cancelled {
                None
            } else {
                Some(conv.event(e, &mut losses, false)?)
            };
            occurrences.push(Occurrence {
                original_utc: conv.utc(&rid),
                patch,
            });
        }
    } else if events.len() > 1 {
        losses.push("changed occurrences of an entry that does not repeat".into());
    }
    Ok(Converted {
        event,
        occurrences,
        losses,
        start_utc,
    })
}

struct Ctx<'a> {
    zones: &'a [&'a Component],
    home_zone: &'a str,
}

impl Ctx<'_> {
    fn vtimezone(&self, tzid: &str) -> Option<&Component> {
        self.zones
            .iter()
            .find(|z| z.get("TZID").is_some_and(|l| l.value.trim() == tzid))
            .copied()
    }

    /// The instant in UTC as well as the object tells.
    fn utc(&self, t: &Time) -> NaiveDateTime {
        match t {
            Time::Zoned(local, tzid) => match self
                .vtimezone(tzid)
                .and_then(|z| time::offset_at(z, *local))
            {
                Some(off) => *local - Duration::seconds(i64::from(off)),
                None => *local,
            },
            other => other.local(),
        }
    }

    /// The Graph zone name of a time (recording a change when there is one).
    fn zone_of(&self, t: &Time, losses: &mut Vec<String>) -> String {
        match t {
            Time::Utc(_) => "UTC".into(),
            Time::Zoned(_, tzid) => match time::graph_zone(tzid) {
                Some(z) => z,
                None => {
                    note(losses, &format!("the time zone “{tzid}” is unknown to Outlook: its times were given in UTC"));
                    "UTC".into()
                }
            },
            Time::Floating(_) => {
                note(
                    losses,
                    &format!(
                        "times without a time zone were placed in the mailbox's time zone ({})",
                        self.home_zone
                    ),
                );
                self.home_zone.to_owned()
            }
            Time::Date(_) => self.home_zone.to_owned(),
        }
    }

    /// `dateTimeTimeZone` of a time.
    fn graph_time(&self, t: &Time, losses: &mut Vec<String>) -> Value {
        let zone = self.zone_of(t, losses);
        let local = match t {
            Time::Zoned(_, tzid) if time::graph_zone(tzid).is_none() => self.utc(t),
            other => other.local(),
        };
        json!({ "dateTime": local.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": zone })
    }

    /// One VEVENT as a Graph event (`full`: a whole event, else the fields
    /// an occurrence's change carries).
    fn event(&self, e: &Component, losses: &mut Vec<String>, full: bool) -> Result<Value, String> {
        let mut g = Map::new();
        let start = e
            .get("DTSTART")
            .and_then(time::time)
            .ok_or("it has no start")?;
        let end = match (e.get("DTEND").and_then(time::time), e.get("DURATION")) {
            (Some(end), _) => end,
            (None, Some(d)) => start.plus(Duration::seconds(
                time::duration(&d.value).ok_or("its length (DURATION) is unreadable")?,
            )),
            (None, None) if matches!(start, Time::Date(_)) => start.plus(Duration::days(1)),
            (None, None) => start.clone(),
        };
        let all_day = matches!(start, Time::Date(_));
        g.insert("start".into(), self.graph_time(&start, losses));
        g.insert("end".into(), self.graph_time(&end, losses));
        g.insert("isAllDay".into(), json!(all_day));
        if let Some(s) = e.get("SUMMARY") {
            g.insert("subject".into(), json!(s.text()));
        }
        let html = e.all("X-ALT-DESC").find(|l| {
            l.param("FMTTYPE")
                .is_some_and(|f| f.eq_ignore_ascii_case("text/html"))
        });
        if let Some(h) = html {
            g.insert(
                "body".into(),
                json!({"contentType": "html", "content": h.text()}),
            );
        } else if let Some(d) = e.get("DESCRIPTION") {
            g.insert(
                "body".into(),
                json!({"contentType": "text", "content": d.text()}),
            );
        }
        if let Some(l) = e.get("LOCATION") {
            let mut loc = json!({ "displayName": l.text() });
            if let Some((lat, lon)) = e.get("GEO").and_then(|g| g.value.split_once(';')) {
                if let (Ok(lat), Ok(lon)) = (lat.trim().parse::<f64>(), lon.trim().parse::<f64>()) {
                    loc["coordinates"] = json!({"latitude": lat, "longitude": lon});
                }
            }
            g.insert("location".into(), loc);
        }
        let categories: Vec<String> = e.all("CATEGORIES").flat_map(Line::list).collect();
        if !categories.is_empty() {
            g.insert("categories".into(), json!(categories));
        }
        let tentative = e
            .get("STATUS")
            .is_some_and(|s| s.value.eq_ignore_ascii_case("TENTATIVE"));
        match e.get("TRANSP").map(|t| t.value.trim().to_ascii_uppercase()) {
            Some(t) if t == "TRANSPARENT" => {
                g.insert("showAs".into(), json!("free"));
            }
            _ if tentative => {
                g.insert("showAs".into(), json!("tentative"));
            }
            _ if full => {
                g.insert("showAs".into(), json!("busy"));
            }
            _ => {}
        }
        if let Some(c) = e.get("CLASS") {
            let s = match c.value.trim().to_ascii_uppercase().as_str() {
                "PRIVATE" => "private",
                "CONFIDENTIAL" => "confidential",
                _ => "normal",
            };
            g.insert("sensitivity".into(), json!(s));
        }
        if let Some(p) = e
            .get("PRIORITY")
            .and_then(|p| p.value.trim().parse::<u8>().ok())
        {
            let i = match p {
                1..=4 => "high",
                6..=9 => "low",
                _ => "normal",
            };
            g.insert("importance".into(), json!(i));
        }
        self.reminder(e, &mut g, losses);
        let attendees: Vec<Value> = e.all("ATTENDEE").filter_map(attendee).collect();
        if !attendees.is_empty() {
            if e.all("ATTENDEE").any(|a| {
                a.param("PARTSTAT")
                    .is_some_and(|p| !p.eq_ignore_ascii_case("NEEDS-ACTION"))
            }) {
                note(
                    losses,
                    "the attendees' answers (Outlook starts them as not answered yet)",
                );
            }
            g.insert("attendees".into(), Value::Array(attendees));
        }
        if let Some(o) = e.get("ORGANIZER").and_then(attendee) {
            g.insert(
                "organizer".into(),
                json!({ "emailAddress": o["emailAddress"] }),
            );
        }
        if full {
            for (prop, what) in [
                ("ATTACH", "attachments"),
                ("URL", "the web address"),
                ("RESOURCES", "the resources"),
                ("CONTACT", "the contact"),
                ("COMMENT", "the comment"),
                ("RELATED-TO", "the link to related entries"),
            ] {
                if e.get(prop).is_some() {
                    note(losses, &format!("{what} ({prop})"));
                }
            }
            if e.get("STATUS")
                .is_some_and(|s| s.value.eq_ignore_ascii_case("CANCELLED"))
            {
                note(
                    losses,
                    "the cancelled status (Outlook shows it as a normal entry)",
                );
            }
        }
        Ok(Value::Object(g))
    }

    fn reminder(&self, e: &Component, g: &mut Map<String, Value>, losses: &mut Vec<String>) {
        let mut alarms = e.children("VALARM");
        let Some(alarm) = alarms.next() else {
            g.insert("isReminderOn".into(), json!(false));
            return;
        };
        if alarms.next().is_some() {
            note(losses, "reminders after the first (Outlook keeps one)");
        }
        let Some(trigger) = alarm.get("TRIGGER") else {
            g.insert("isReminderOn".into(), json!(false));
            return;
        };
        let related_end = trigger
            .param("RELATED")
            .is_some_and(|r| r.eq_ignore_ascii_case("END"));
        match time::duration(&trigger.value) {
            Some(secs) if !related_end && secs <= 0 => {
                g.insert("isReminderOn".into(), json!(true));
                g.insert("reminderMinutesBeforeStart".into(), json!(-secs / 60));
            }
            _ => {
                note(losses, "a reminder not set before the start (Outlook's remind before the start; it was set at the start)");
                g.insert("isReminderOn".into(), json!(true));
                g.insert("reminderMinutesBeforeStart".into(), json!(0));
            }
        }
    }
}

fn note(losses: &mut Vec<String>, what: &str) {
    if !losses.iter().any(|l| l == what) {
        losses.push(what.to_owned());
    }
}

fn attendee(l: &Line) -> Option<Value> {
    let v = l.value.trim();
    let address = v
        .strip_prefix("mailto:")
        .or_else(|| v.strip_prefix("MAILTO:"))
        .unwrap_or(v);
    if !address.contains('@') {
        return None;
    }
    let name = l.param("CN").unwrap_or(address);
    let kind = match (
        l.param("ROLE").map(str::to_ascii_uppercase).as_deref(),
        l.param("CUTYPE").map(str::to_ascii_uppercase).as_deref(),
    ) {
        (_, Some("RESOURCE") | Some("ROOM")) => "resource",
        (Some("OPT-PARTICIPANT") | Some("NON-PARTICIPANT"), _) => "optional",
        _ => "required",
    };
    Some(json!({ "emailAddress": { "address": address, "name": name }, "type": kind }))
}

fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn index_name(n: i32) -> Option<&'static str> {
    Some(match n {
        1 => "first",
        2 => "second",
        3 => "third",
        4 => "fourth",
        -1 => "last",
        _ => return None,
    })
}

/// An RRULE as Graph's `patternedRecurrence`, or why Graph cannot repeat
/// an event that way.
pub fn recurrence(rule: &str, start: &Time, zone: &str) -> Result<Value, String> {
    let parts = time::rule_parts(rule);
    let cannot = |why: &str| {
        Err(format!(
            "it repeats {why}, which Outlook cannot repeat: it was not copied"
        ))
    };
    for unsupported in ["BYSECOND", "BYMINUTE", "BYHOUR", "BYYEARDAY", "BYWEEKNO"] {
        if parts.contains_key(unsupported) {
            return cannot(&format!("by a rule using {unsupported}"));
        }
    }
    let interval: u32 = parts
        .get("INTERVAL")
        .and_then(|i| i.parse().ok())
        .unwrap_or(1);
    let local = start.local();
    let days: Vec<(Option<i32>, Weekday)> = match parts.get("BYDAY") {
        Some(v) => v
            .split(',')
            .map(time::ordinal_day)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("its repeat rule has an unreadable day list ({v})"))?,
        None => Vec::new(),
    };
    let plain_days = |days: &[(Option<i32>, Weekday)]| -> Option<Vec<&'static str>> {
        days.iter()
            .map(|(n, d)| n.is_none().then(|| day_name(*d)))
            .collect()
    };
    let month_days: Vec<i32> = match parts.get("BYMONTHDAY") {
        Some(v) => v.split(',').filter_map(|d| d.trim().parse().ok()).collect(),
        None => Vec::new(),
    };
    let months: Vec<u32> = match parts.get("BYMONTH") {
        Some(v) => v.split(',').filter_map(|d| d.trim().parse().ok()).collect(),
        None => Vec::new(),
    };
    let setpos: Option<i32> = match parts.get("BYSETPOS") {
        Some(v) if v.contains(',') => return cannot("on several positions of a set (BYSETPOS)"),
        Some(v) => v.parse().ok(),
        None => None,
    };
    let first_day = parts
        .get("WKST")
        .and_then(|w| time::ordinal_day(w))
        .map(|(_, d)| day_name(d))
        .unwrap_or("sunday");
    let relative =
        |days: &[(Option<i32>, Weekday)]| -> Result<(Vec<&'static str>, &'static str), String> {
            match (days, setpos) {
            ([(Some(n), d)], None) => Ok((vec![day_name(*d)], index_name(*n).ok_or_else(|| format!("it repeats on the {n}th weekday, which Outlook cannot repeat: it was not copied"))?)),
            (ds, Some(n)) if !ds.is_empty() && ds.iter().all(|(o, _)| o.is_none()) => Ok((
                ds.iter().map(|(_, d)| day_name(*d)).collect(),
                index_name(n).ok_or_else(|| format!("it repeats on position {n} of a set, which Outlook cannot repeat: it was not copied"))?,
            )),
            _ => Err("it repeats on several numbered weekdays, which Outlook cannot repeat: it was not copied".into()),
        }
        };
    let pattern = match parts.get("FREQ").map(String::as_str) {
        Some("DAILY") => {
            if !month_days.is_empty() || !months.is_empty() || setpos.is_some() {
                return cannot("daily on some months or days of the month");
            }
            if days.is_empty() {
                json!({"type": "daily", "interval": interval})
            } else if interval == 1 {
                let list = plain_days(&days).ok_or("its daily rule has numbered weekdays, which Outlook cannot repeat: it was not copied")?;
                json!({"type": "weekly", "interval": 1, "daysOfWeek": list, "firstDayOfWeek": first_day})
            } else {
                return cannot("every few days on some weekdays");
            }
        }
        Some("WEEKLY") => {
            if !month_days.is_empty() || !months.is_empty() || setpos.is_some() {
                return cannot("weekly on some months or days of the month");
            }
            let list = if days.is_empty() {
                vec![day_name(local.weekday())]
            } else {
                plain_days(&days).ok_or("its weekly rule has numbered weekdays, which Outlook cannot repeat: it was not copied")?
            };
            json!({"type": "weekly", "interval": interval, "daysOfWeek": list, "firstDayOfWeek": first_day})
        }
        Some("MONTHLY") => {
            if !months.is_empty() {
                return cannot("monthly in some months only");
            }
            match (month_days.as_slice(), days.is_empty()) {
                ([], true) => {
                    json!({"type": "absoluteMonthly", "interval": interval, "dayOfMonth": local.day()})
                }
                ([d], true) if *d > 0 => {
                    json!({"type": "absoluteMonthly", "interval": interval, "dayOfMonth": d})
                }
                ([], false) => {
                    let (list, index) = relative(&days)?;
                    json!({"type": "relativeMonthly", "interval": interval, "daysOfWeek": list, "index": index})
                }
                _ => return cannot("on several or counted-from-the-end days of the month"),
            }
        }
        Some("YEARLY") => {
            let month = match months.as_slice() {
                [] => local.month(),
                [m] => *m,
                _ => return cannot("yearly in several months"),
            };
            match (month_days.as_slice(), days.is_empty()) {
                ([], true) => {
                    json!({"type": "absoluteYearly", "interval": interval, "month": month, "dayOfMonth": local.day()})
                }
                ([d], true) if *d > 0 => {
                    json!({"type": "absoluteYearly", "interval": interval, "month": month, "dayOfMonth": d})
                }
                ([], false) => {
                    let (list, index) = relative(&days)?;
                    json!({"type": "relativeYearly", "interval": interval, "month": month, "daysOfWeek": list, "index": index})
                }
                _ => return cannot("yearly on several days"),
            }
        }
        Some(other) => {
            return cannot(&format!(
                "more than once a day ({})",
                other.to_ascii_lowercase()
            ))
        }
        None => return Err("its repeat rule has no frequency: it was not copied".into()),
    };
    let start_date = local.date().format("%Y-%m-%d").to_string();
    let range = if let Some(n) = parts.get("COUNT") {
        json!({"type": "numbered", "startDate": start_date, "numberOfOccurrences": n.parse::<u32>().map_err(|_| "its repeat count is unreadable")?, "recurrenceTimeZone": zone})
    } else if let Some(until) = parts.get("UNTIL") {
        let date: String = until.chars().take(8).collect();
        let end = NaiveDate::parse_from_str(&date, "%Y%m%d")
            .map_err(|_| "its repeat end (UNTIL) is unreadable")?;
        json!({"type": "endDate", "startDate": start_date, "endDate": end.format("%Y-%m-%d").to_string(), "recurrenceTimeZone": zone})
    } else {
        json!({"type": "noEnd", "startDate": start_date, "recurrenceTimeZone": zone})
    };
    Ok(json!({ "pattern": pattern, "range": range }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
        DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n\
        TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
        END:STANDARD\r\nEND:VTIMEZONE\r\n";

    fn cal(body: &str) -> Vec<u8> {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n")
            .into_bytes()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap()
    }

    #[test]
    fn a_zoned_weekly_series_with_an_exdate_and_a_moved_occurrence() {
        let c = to_graph(
            &cal(&format!(
                "{BERLIN}BEGIN:VEVENT\r\nUID:e-1\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\n\
                 DTEND;TZID=Europe/Berlin:20260105T093000\r\nRRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO\r\n\
                 EXDATE;TZID=Europe/Berlin:20260119T090000\r\nSUMMARY:Weekly\\, team\r\nDESCRIPTION:Line 1\\nLine 2\r\n\
                 LOCATION:Room 1\r\nCATEGORIES:Work,Team\r\nCLASS:PRIVATE\r\nTRANSP:TRANSPARENT\r\nPRIORITY:1\r\n\
                 ORGANIZER;CN=Owner:mailto:owner@example.com\r\n\
                 ATTENDEE;CN=Bob;ROLE=REQ-PARTICIPANT:mailto:bob@example.com\r\n\
                 ATTENDEE;ROLE=OPT-PARTICIPANT:mailto:eve@example.com\r\n\
                 BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
                 BEGIN:VEVENT\r\nUID:e-1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\n\
                 DTSTART;TZID=Europe/Berlin:20260112T110000\r\nDTEND;TZID=Europe/Berlin:20260112T113000\r\n\
                 SUMMARY:Weekly (moved)\r\nEND:VEVENT\r\n"
            )),
            "W. Europe Standard Time",
        )
        .unwrap();
        let e = &c.event;
        assert_eq!(e["subject"], "Weekly, team");
        assert_eq!(
            e["body"],
            json!({"contentType": "text", "content": "Line 1\nLine 2"})
        );
        assert_eq!(
            e["start"],
            json!({"dateTime": "2026-01-05T09:00:00", "timeZone": "Europe/Berlin"})
        );
        assert_eq!(
            e["end"],
            json!({"dateTime": "2026-01-05T09:30:00", "timeZone": "Europe/Berlin"})
        );
        assert_eq!(e["isAllDay"], false);
        assert_eq!(e["location"]["displayName"], "Room 1");
        assert_eq!(e["categories"], json!(["Work", "Team"]));
        assert_eq!(e["sensitivity"], "private");
        assert_eq!(e["showAs"], "free");
        assert_eq!(e["importance"], "high");
        assert_eq!(e["isReminderOn"], true);
        assert_eq!(e["reminderMinutesBeforeStart"], 15);
        assert_eq!(
            e["organizer"]["emailAddress"]["address"],
            "owner@example.com"
        );
        assert_eq!(
            e["attendees"][0],
            json!({"emailAddress": {"address": "bob@example.com", "name": "Bob"}, "type": "required"})
        );
        assert_eq!(e["attendees"][1]["type"], "optional");
        assert_eq!(
            e["recurrence"],
            json!({
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
                "range": {"type": "numbered", "startDate": "2026-01-05", "numberOfOccurrences": 10, "recurrenceTimeZone": "Europe/Berlin"}
            })
        );
        assert_eq!(c.start_utc, Some(at("20260105T080000")));
        assert_eq!(c.occurrences.len(), 2);
        assert_eq!(
            c.occurrences[0],
            Occurrence {
                original_utc: at("20260119T080000"),
                patch: None
            }
        );
        assert_eq!(c.occurrences[1].original_utc, at("20260112T080000"));
        let moved = c.occurrences[1].patch.as_ref().unwrap();
        assert_eq!(moved["subject"], "Weekly (moved)");
        assert_eq!(moved["start"]["dateTime"], "2026-01-12T11:00:00");
        assert!(c.losses.is_empty(), "{:?}", c.losses);
    }

    #[test]
    fn all_day_multi_day_floating_and_utc_times() {
        let all_day = to_graph(&cal("BEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20260401\r\nDTEND;VALUE=DATE:20260404\r\nSUMMARY:Trip\r\nEND:VEVENT\r\n"), "W. Europe Standard Time").unwrap();
        assert_eq!(all_day.event["isAllDay"], true);
        assert_eq!(
            all_day.event["start"],
            json!({"dateTime": "2026-04-01T00:00:00", "timeZone": "W. Europe Standard Time"})
        );
        assert_eq!(all_day.event["end"]["dateTime"], "2026-04-04T00:00:00");
        assert_eq!(all_day.event["isReminderOn"], false);
        assert!(all_day.losses.is_empty());
        let floating = to_graph(&cal("BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20260501T080000\r\nDTEND:20260501T090000\r\nEND:VEVENT\r\n"), "Pacific Standard Time").unwrap();
        assert_eq!(
            floating.event["start"],
            json!({"dateTime": "2026-05-01T08:00:00", "timeZone": "Pacific Standard Time"})
        );
        assert_eq!(floating.losses, vec!["times without a time zone were placed in the mailbox's time zone (Pacific Standard Time)"]);
        let utc = to_graph(&cal("BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260601T120000Z\r\nDURATION:PT1H30M\r\nEND:VEVENT\r\n"), "X").unwrap();
        assert_eq!(
            utc.event["start"],
            json!({"dateTime": "2026-06-01T12:00:00", "timeZone": "UTC"})
        );
        assert_eq!(
            utc.event["end"],
            json!({"dateTime": "2026-06-01T13:30:00", "timeZone": "UTC"})
        );
    }

    #[test]
    fn repeat_rules_graph_can_and_cannot_express() {
        let start = Time::Zoned(at("20260115T090000"), "Europe/Berlin".into());
        let r = |rule: &str| recurrence(rule, &start, "Europe/Berlin");
        assert_eq!(
            r("FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20261231T000000Z").unwrap(),
            json!({
                "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
                "range": {"type": "endDate", "startDate": "2026-01-15", "endDate": "2026-12-31", "recurrenceTimeZone": "Europe/Berlin"}
            })
        );
        assert_eq!(
            r("FREQ=YEARLY").unwrap()["pattern"],
            json!({"type": "absoluteYearly", "interval": 1, "month": 1, "dayOfMonth": 15})
        );
        assert_eq!(
            r("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1").unwrap()["pattern"]["index"],
            "first"
        );
        assert_eq!(
            r("FREQ=DAILY;INTERVAL=2").unwrap()["range"]["type"],
            "noEnd"
        );
        assert_eq!(
            r("FREQ=DAILY;BYDAY=MO,WE").unwrap()["pattern"]["type"],
            "weekly"
        );
        assert!(r("FREQ=HOURLY")
            .unwrap_err()
            .contains("more than once a day"));
        assert!(r("FREQ=MONTHLY;BYMONTHDAY=-1")
            .unwrap_err()
            .contains("Outlook cannot repeat"));
        assert!(r("FREQ=YEARLY;BYWEEKNO=20")
            .unwrap_err()
            .contains("BYWEEKNO"));
        let refused = to_graph(&cal("BEGIN:VEVENT\r\nUID:h\r\nDTSTART:20260101T100000Z\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\n"), "UTC");
        assert!(refused.unwrap_err().contains("Outlook cannot repeat"));
        let todo = to_graph(
            &cal("BEGIN:VTODO\r\nUID:t\r\nSUMMARY:x\r\nEND:VTODO\r\n"),
            "UTC",
        );
        assert_eq!(todo.unwrap_err(), TODO_REASON);
    }
}

fn weekday_of(name: &str) -> Option<Weekday> {
    Some(match name {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn day_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn index_number(name: &str) -> i32 {
    match name {
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "last" => -1,
        _ => 1,
    }
}

/// The days of a `patternedRecurrence`'s `daysOfWeek`.
fn days_of(pattern: &Value) -> Vec<Weekday> {
    pattern["daysOfWeek"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str().and_then(weekday_of))
        .collect()
}

/// A Graph `patternedRecurrence` as an RRULE (`until` in UTC for an end date).
pub fn rrule_of(recurrence: &Value) -> Option<String> {
    let p = &recurrence["pattern"];
    let r = &recurrence["range"];
    let interval = p["interval"].as_u64().unwrap_or(1).max(1);
    let days: Vec<&str> = days_of(p).into_iter().map(day_code).collect();
    let index = index_number(p["index"].as_str().unwrap_or("first"));
    let mut rule = match p["type"].as_str()? {
        "daily" => "FREQ=DAILY".to_owned(),
        "weekly" => format!("FREQ=WEEKLY;BYDAY={}", days.join(",")),
        "absoluteMonthly" => format!("FREQ=MONTHLY;BYMONTHDAY={}", p["dayOfMonth"].as_u64()?),
        "relativeMonthly" if days.len() == 1 => format!("FREQ=MONTHLY;BYDAY={index}{}", days[0]),
        "relativeMonthly" => format!("FREQ=MONTHLY;BYDAY={};BYSETPOS={index}", days.join(",")),
        "absoluteYearly" => format!(
            "FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}",
            p["month"].as_u64()?,
            p["dayOfMonth"].as_u64()?
        ),
        "relativeYearly" if days.len() == 1 => format!(
            "FREQ=YEARLY;BYMONTH={};BYDAY={index}{}",
            p["month"].as_u64()?,
            days[0]
        ),
        "relativeYearly" => format!(
            "FREQ=YEARLY;BYMONTH={};BYDAY={};BYSETPOS={index}",
            p["month"].as_u64()?,
            days.join(",")
        ),
        _ => return None,
    };
    if interval > 1 {
        rule.push_str(&format!(";INTERVAL={interval}"));
    }
    if p["type"] == "weekly" {
        if let Some(w) = p["firstDayOfWeek"].as_str().and_then(weekday_of) {
            if w != Weekday::Sun || days.len() > 1 {
                rule.push_str(&format!(";WKST={}", day_code(w)));
            }
        }
    }
    match r["type"].as_str() {
        Some("numbered") => {
            rule.push_str(&format!(";COUNT={}", r["numberOfOccurrences"].as_u64()?))
        }
        Some("endDate") => {
            let end = NaiveDate::parse_from_str(r["endDate"].as_str()?, "%Y-%m-%d").ok()?;
            rule.push_str(&format!(";UNTIL={}T235959Z", end.format("%Y%m%d")));
        }
        _ => {}
    }
    Some(rule)
}

/// The dates a `patternedRecurrence` gives, from its start (at most `max`,
/// none after `last`).
pub fn occurrence_dates(recurrence: &Value, last: NaiveDate, max: usize) -> Vec<NaiveDate> {
    let p = &recurrence["pattern"];
    let r = &recurrence["range"];
    let Some(first) = r["startDate"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    else {
        return Vec::new();
    };
    let end = r["endDate"]
        .as_str()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .filter(|_| r["type"] == "endDate")
        .map_or(last, |e| e.min(last));
    let count = r["numberOfOccurrences"]
        .as_u64()
        .filter(|_| r["type"] == "numbered")
        .map_or(max, |n| (n as usize).min(max));
    let interval = p["interval"].as_i64().unwrap_or(1).max(1);
    let days = days_of(p);
    let index = index_number(p["index"].as_str().unwrap_or("first"));
    let day_of_month = p["dayOfMonth"].as_u64().unwrap_or(0) as u32;
    let month = p["month"].as_u64().unwrap_or(0) as u32;
    let week_start = p["firstDayOfWeek"]
        .as_str()
        .and_then(weekday_of)
        .unwrap_or(Weekday::Sun);
    let week_of = |d: NaiveDate| {
        let back = (7 + d.weekday().num_days_from_monday() - week_start.num_days_from_monday()) % 7;
        d - Duration::days(i64::from(back))
    };
    let months_between = |d: NaiveDate| {
        (d.year() - first.year()) as i64 * 12 + i64::from(d.month()) - i64::from(first.month())
    };
    let relative = |d: NaiveDate| {
        let mut set: Vec<NaiveDate> = days
            .iter()
            .flat_map(|wd| {
                (1..=5).filter_map(move |n| {
                    NaiveDate::from_weekday_of_month_opt(d.year(), d.month(), *wd, n)
                })
            })
            .collect();
        set.sort();
        let pick = if index > 0 {
            set.get(index as usize - 1).copied()
        } else {
            set.last().copied()
        };
        pick == Some(d)
    };
    let mut out = Vec::new();
    let mut d = first;
    while d <= end && out.len() < count {
        let hit = match p["type"].as_str().unwrap_or("") {
            "daily" => (d - first).num_days() % interval == 0,
            "weekly" => {
                (week_of(d) - week_of(first)).num_days() / 7 % interval == 0
                    && days.contains(&d.weekday())
            }
            "absoluteMonthly" => months_between(d) % interval == 0 && d.day() == day_of_month,
            "relativeMonthly" => months_between(d) % interval == 0 && relative(d),
            "absoluteYearly" => {
                (d.year() - first.year()) as i64 % interval == 0
                    && d.month() == month
                    && d.day() == day_of_month
            }
            "relativeYearly" => {
                (d.year() - first.year()) as i64 % interval == 0
                    && d.month() == month
                    && relative(d)
            }
            _ => false,
        };
        if hit {
            out.push(d);
        }
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    out
}

/// Graph's `dateTimeTimeZone` as an iCalendar property (`DTSTART`, …):
/// a date for an all-day event, UTC with `Z`, else the zone's name as TZID.
fn ical_time(name: &str, t: &Value, all_day: bool) -> Option<String> {
    let local = NaiveDateTime::parse_from_str(
        t["dateTime"].as_str()?.trim_end_matches('Z'),
        "%Y-%m-%dT%H:%M:%S%.f",
    )
    .ok()?;
    let zone = t["timeZone"].as_str().unwrap_or("UTC");
    Some(if all_day {
        format!("{name};VALUE=DATE:{}", local.format("%Y%m%d"))
    } else if zone == "UTC" || zone == "Etc/UTC" {
        format!("{name}:{}Z", local.format("%Y%m%dT%H%M%S"))
    } else {
        format!("{name};TZID={zone}:{}", local.format("%Y%m%dT%H%M%S"))
    })
}

/// The properties of one Graph event as VEVENT lines (without BEGIN/END).
fn vevent_lines(e: &Value, uid: &str, full: bool) -> Vec<String> {
    let s = |k: &str| e[k].as_str().filter(|v| !v.is_empty());
    let all_day = e["isAllDay"].as_bool().unwrap_or(false);
    let mut out = vec![format!("UID:{}", lines::escape(uid))];
    if let Some(t) =
        s("lastModifiedDateTime").and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    {
        out.push(format!(
            "DTSTAMP:{}",
            t.naive_utc().format("%Y%m%dT%H%M%SZ")
        ));
    }
    out.extend(ical_time("DTSTART", &e["start"], all_day));
    out.extend(ical_time("DTEND", &e["end"], all_day));
    if let Some(v) = s("subject") {
        out.push(format!("SUMMARY:{}", lines::escape(v)));
    }
    let body = e["body"]["content"].as_str().unwrap_or("");
    if !body.trim().is_empty() {
        if e["body"]["contentType"] == "html" {
            out.push(format!(
                "X-ALT-DESC;FMTTYPE=text/html:{}",
                lines::escape(body)
            ));
            out.push(format!("DESCRIPTION:{}", lines::escape(&strip_tags(body))));
        } else {
            out.push(format!("DESCRIPTION:{}", lines::escape(body)));
        }
    }
    if let Some(l) = e["location"]["displayName"]
        .as_str()
        .filter(|l| !l.is_empty())
    {
        out.push(format!("LOCATION:{}", lines::escape(l)));
        let c = &e["location"]["coordinates"];
        if let (Some(lat), Some(lon)) = (c["latitude"].as_f64(), c["longitude"].as_f64()) {
            out.push(format!("GEO:{lat};{lon}"));
        }
    }
    out.extend(lines::categories_line(e));
    match s("showAs") {
        Some("free") => out.push("TRANSP:TRANSPARENT".into()),
        Some("tentative") => {
            out.push("TRANSP:OPAQUE".into());
            out.push("STATUS:TENTATIVE".into());
        }
        Some(_) => out.push("TRANSP:OPAQUE".into()),
        None => {}
    }
    match s("sensitivity") {
        Some("private") => out.push("CLASS:PRIVATE".into()),
        Some("confidential") => out.push("CLASS:CONFIDENTIAL".into()),
        Some("personal") => out.push("CLASS:PRIVATE".into()),
        Some(_) if full => out.push("CLASS:PUBLIC".into()),
        _ => {}
    }
    match s("importance") {
        Some("high") => out.push("PRIORITY:1".into()),
        Some("low") => out.push("PRIORITY:9".into()),
        _ => {}
    }
    if let Some(o) = e["organizer"]["emailAddress"]["address"]
        .as_str()
        .filter(|a| !a.is_empty())
    {
        let cn = e["organizer"]["emailAddress"]["name"].as_str().unwrap_or(o);
        out.push(format!(
            "ORGANIZER;CN=\"{}\":mailto:{o}",
            cn.replace('"', "'")
        ));
    }
    for a in e["attendees"].as_array().into_iter().flatten() {
        let Some(addr) = a["emailAddress"]["address"].as_str() else {
            continue;
        };
        let cn = a["emailAddress"]["name"]
            .as_str()
            .unwrap_or(addr)
            .replace('"', "'");
        let role = match a["type"].as_str() {
            Some("optional") => ";ROLE=OPT-PARTICIPANT",
            Some("resource") => ";CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT",
            _ => ";ROLE=REQ-PARTICIPANT",
        };
        let partstat = match a["status"]["response"].as_str() {
            Some("accepted") => ";PARTSTAT=ACCEPTED",
            Some("declined") => ";PARTSTAT=DECLINED",
            Some("tentativelyAccepted") => ";PARTSTAT=TENTATIVE",
            _ => "",
        };
        out.push(format!(
            "ATTENDEE;CN=\"{cn}\"{role}{partstat}:mailto:{addr}"
        ));
    }
    out
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .trim()
        .to_owned()
}

fn alarm(e: &Value) -> Vec<String> {
    if e["isReminderOn"].as_bool() != Some(true) {
        return Vec::new();
    }
    let minutes = e["reminderMinutesBeforeStart"].as_i64().unwrap_or(15);
    vec![
        "BEGIN:VALARM".into(),
        "ACTION:DISPLAY".into(),
        "DESCRIPTION:Reminder".into(),
        format!("TRIGGER:-PT{minutes}M"),
        "END:VALARM".into(),
    ]
}

/// An iCalendar object of a Graph event: a single one, or a series master
/// with its removed occurrences (`EXDATE`, from the dates its pattern
/// gives that `instances` lacks) and its changed ones (`RECURRENCE-ID`
/// components, from the instances of type `exception`). `instances` are
/// the series' occurrences in the same zone as `master`.
pub fn from_graph(master: &Value, uid: &str, instances: &[Value]) -> Vec<u8> {
    let mut body: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//MailFerry//Microsoft 365 export//EN".into(),
    ];
    let all_day = master["isAllDay"].as_bool().unwrap_or(false);
    if !all_day {
        let mut zones: Vec<&str> = ["start", "end"]
            .iter()
            .filter_map(|k| master[*k]["timeZone"].as_str())
            .filter(|z| *z != "UTC" && *z != "Etc/UTC")
            .collect();
        zones.dedup();
        for z in zones {
            body.extend(time::vtimezone(z).unwrap_or_default());
        }
    }
    body.push("BEGIN:VEVENT".into());
    body.extend(vevent_lines(master, uid, true));
    let series = master["recurrence"].is_object();
    if series {
        if let Some(rule) = rrule_of(&master["recurrence"]) {
            body.push(format!("RRULE:{rule}"));
        }
        // Each listed occurrence: its original start in UTC and the UTC
        // offset of its zone then (its local start less its UTC one).
        let listed: Vec<(NaiveDateTime, Option<i64>)> = instances
            .iter()
            .filter_map(|i| {
                let utc = ical_local(&i["originalStart"])?;
                let offset = (i["type"] != "exception")
                    .then(|| ical_local(&i["start"]["dateTime"]))
                    .flatten()
                    .map(|local| (local - utc).num_seconds());
                Some((utc, offset))
            })
            .collect();
        let start = ical_local(&master["start"]["dateTime"]);
        // Removed occurrences are looked for up to the series' end (its
        // count bounds a numbered one); an open series up to the last
        // occurrence Graph listed.
        let range = &master["recurrence"]["range"];
        let last = match range["type"].as_str() {
            Some("endDate") => range["endDate"]
                .as_str()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
            Some("numbered") => NaiveDate::from_ymd_opt(9999, 12, 31),
            _ => listed.iter().map(|(t, _)| t.date()).max(),
        };
        if let (Some(start), Some(last)) = (start, last) {
            for d in occurrence_dates(&master["recurrence"], last, 5000) {
                let local = d.and_time(start.time());
                // The zone's offset at the nearest occurrence still listed.
                let offset = listed
                    .iter()
                    .filter_map(|(t, o)| Some(((*t - local).num_seconds().abs(), (*o)?)))
                    .min()
                    .map_or(0, |(_, o)| o);
                let utc = local - Duration::seconds(offset);
                // Graph repeats at most once a day: within 12 hours is this occurrence.
                if listed
                    .iter()
                    .any(|(t, _)| (*t - utc).num_hours().abs() < 12)
                {
                    continue;
                }
                body.push(if all_day {
                    format!("EXDATE;VALUE=DATE:{}", d.format("%Y%m%d"))
                } else {
                    format!("EXDATE:{}", utc.format("%Y%m%dT%H%M%SZ"))
                });
            }
        }
    }
    body.extend(alarm(master));
    body.push("END:VEVENT".into());
    for i in instances.iter().filter(|i| i["type"] == "exception") {
        let Some(original) = i["originalStart"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        else {
            continue;
        };
        body.push("BEGIN:VEVENT".into());
        let mut lines = vevent_lines(i, uid, false);
        if !lines.iter().any(|l| l.starts_with("DTSTAMP:")) {
            if let Some(stamp) = vevent_lines(master, uid, false)
                .into_iter()
                .find(|l| l.starts_with("DTSTAMP:"))
            {
                lines.insert(1, stamp);
            }
        }
        body.extend(lines);
        body.push(if all_day {
            format!(
                "RECURRENCE-ID;VALUE=DATE:{}",
                original.naive_utc().format("%Y%m%d")
            )
        } else {
            format!(
                "RECURRENCE-ID:{}",
                original.naive_utc().format("%Y%m%dT%H%M%SZ")
            )
        });
        body.extend(alarm(i));
        body.push("END:VEVENT".into());
    }
    body.push("END:VCALENDAR".into());
    let mut out = String::new();
    for l in body {
        lines::push_folded(&mut out, &l);
    }
    out.into_bytes()
}

fn ical_local(v: &Value) -> Option<NaiveDateTime> {
    let s = v.as_str()?;
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f").ok()
}

#[cfg(test)]
mod back {
    use super::*;

    #[test]
    fn graph_patterns_become_rrules_and_dates() {
        let r = json!({
            "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
            "range": {"type": "endDate", "startDate": "2026-01-30", "endDate": "2026-04-30"}
        });
        assert_eq!(
            rrule_of(&r).unwrap(),
            "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20260430T235959Z"
        );
        let last = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let dates: Vec<String> = occurrence_dates(&r, last, 100)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            dates,
            ["2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"]
        );
        let w = json!({
            "pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "monday"},
            "range": {"type": "numbered", "startDate": "2026-01-05", "numberOfOccurrences": 4}
        });
        assert_eq!(
            rrule_of(&w).unwrap(),
            "FREQ=WEEKLY;BYDAY=MO,TH;INTERVAL=2;WKST=MO;COUNT=4"
        );
        let dates: Vec<String> = occurrence_dates(&w, last, 100)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            dates,
            ["2026-01-05", "2026-01-08", "2026-01-19", "2026-01-22"]
        );
    }

    #[test]
    fn an_event_goes_to_graph_and_comes_back_with_the_same_fields() {
        let ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e-7\r\nDTSTART;TZID=Europe/Berlin:20260105T090000\r\n\
            DTEND;TZID=Europe/Berlin:20260105T093000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4\r\nSUMMARY:Standup\r\n\
            DESCRIPTION:Notes\\nhere\r\nLOCATION:Room 1\r\nCATEGORIES:Work\r\nCLASS:CONFIDENTIAL\r\nTRANSP:TRANSPARENT\r\n\
            PRIORITY:9\r\nORGANIZER;CN=Owner:mailto:owner@example.com\r\nATTENDEE;CN=Bob;ROLE=OPT-PARTICIPANT:mailto:bob@example.com\r\n\
            BEGIN:VALARM\r\nTRIGGER:-PT30M\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let there = to_graph(ics, "UTC").unwrap().event;
        // Graph lists the occurrences; the third was removed, the second moved.
        let occ = |d: &str, kind: &str| {
            let h = if kind == "exception" { 10 } else { 9 };
            json!({"type": kind, "originalStart": format!("{d}T08:00:00Z"), "subject": "Standup (late)",
            "start": {"dateTime": format!("{d}T{h}:00:00.0000000"), "timeZone": "Europe/Berlin"},
            "end": {"dateTime": format!("{d}T{h}:30:00.0000000"), "timeZone": "Europe/Berlin"}})
        };
        // The last one, too, was removed: it is not listed either.
        let instances = [
            occ("2026-01-05", "occurrence"),
            occ("2026-01-12", "exception"),
        ];
        let back = from_graph(&there, "e-7", &instances);
        let text = String::from_utf8_lossy(&back).replace("\r\n ", "");
        assert!(
            text.contains("\r\nEXDATE:20260119T080000Z\r\nEXDATE:20260126T080000Z\r\n"),
            "{text}"
        );
        assert!(
            text.contains("\r\nRECURRENCE-ID:20260112T080000Z\r\n"),
            "{text}"
        );
        let again = to_graph(&back, "UTC").unwrap();
        assert_eq!(again.event, there, "{text}");
        assert_eq!(again.occurrences.len(), 3);
        assert_eq!(
            again.occurrences[2].patch.as_ref().unwrap()["subject"],
            "Standup (late)"
        );
    }
}
