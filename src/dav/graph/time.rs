//! iCalendar times for Graph: DATE, UTC, zoned (TZID with its VTIMEZONE)
//! and floating values, durations, and the UTC offset a VTIMEZONE gives
//! at a local time (its STANDARD/DAYLIGHT observances with yearly rules),
//! so an occurrence can be found among Graph's instances.

use super::lines::{Component, Line};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use std::path::Path;

/// A DTSTART, DTEND, EXDATE or RECURRENCE-ID value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Time {
    /// A date (all-day).
    Date(NaiveDate),
    /// An instant in UTC (`…Z`).
    Utc(NaiveDateTime),
    /// A local time in the zone `TZID`.
    Zoned(NaiveDateTime, String),
    /// A local time wherever one is (no zone).
    Floating(NaiveDateTime),
}

impl Time {
    /// The local date and time (midnight for a date).
    pub fn local(&self) -> NaiveDateTime {
        match self {
            Time::Date(d) => d.and_time(NaiveTime::MIN),
            Time::Utc(t) | Time::Zoned(t, _) | Time::Floating(t) => *t,
        }
    }

    /// The same kind of time moved by `d`.
    pub fn plus(&self, d: Duration) -> Time {
        match self {
            Time::Date(x) => Time::Date((x.and_time(NaiveTime::MIN) + d).date()),
            Time::Utc(t) => Time::Utc(*t + d),
            Time::Zoned(t, z) => Time::Zoned(*t + d, z.clone()),
            Time::Floating(t) => Time::Floating(*t + d),
        }
    }
}

/// Every time of a property (EXDATE may hold several, comma-separated).
pub fn times(line: &Line) -> Vec<Time> {
    let zone = line.param("TZID").map(str::to_owned);
    let date_only = line
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    line.value
        .split(',')
        .filter_map(|v| parse(v.trim(), zone.as_deref(), date_only))
        .collect()
}

/// The first time of a property.
pub fn time(line: &Line) -> Option<Time> {
    times(line).into_iter().next()
}

fn parse(v: &str, zone: Option<&str>, date_only: bool) -> Option<Time> {
    if date_only || v.len() == 8 {
        return NaiveDate::parse_from_str(v, "%Y%m%d").ok().map(Time::Date);
    }
    if let Some(utc) = v.strip_suffix('Z').or_else(|| v.strip_suffix('z')) {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .ok()
            .map(Time::Utc);
    }
    let t = NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S").ok()?;
    Some(match zone {
        Some(z) => Time::Zoned(t, z.to_owned()),
        None => Time::Floating(t),
    })
}

/// An RFC 5545 duration (`-PT15M`, `P1DT2H`, `P2W`) in seconds.
pub fn duration(v: &str) -> Option<i64> {
    let v = v.trim();
    let (sign, rest) = match v.as_bytes().first()? {
        b'-' => (-1, &v[1..]),
        b'+' => (1, &v[1..]),
        _ => (1, v),
    };
    let rest = rest.strip_prefix('P')?;
    let mut total = 0i64;
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' => number.push(c),
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                total += n * match (unit, in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
            }
        }
    }
    number.is_empty().then_some(sign * total)
}

/// The zone name Graph is given for a TZID: IANA names and Windows names
/// pass as they are (prefixes such as `/freeassociation.sourceforge.net/`
/// removed); None for a name Graph would not know.
pub fn graph_zone(tzid: &str) -> Option<String> {
    let mut z = tzid.trim().trim_matches('"');
    for prefix in [
        "/freeassociation.sourceforge.net/Tzfile/",
        "/freeassociation.sourceforge.net/",
        "/mozilla.org/20050126_1/",
        "/mozilla.org/20070129_1/",
        "/citadel.org/20190914_1/",
        "/softwarestudio.org/Olson_20011030_5/",
    ] {
        if let Some(rest) = z.strip_prefix(prefix) {
            z = rest;
        }
    }
    let iana = z.contains('/')
        && !z.starts_with('/')
        && z.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
    let windows = z.ends_with(" Standard Time") || z == "UTC" || z == "Etc/UTC" || z == "GMT";
    (iana || windows).then(|| z.to_owned())
}

/// The UTC offset (seconds) the VTIMEZONE `tz` gives at local time `t`.
pub fn offset_at(tz: &Component, t: NaiveDateTime) -> Option<i32> {
    let mut best: Option<(NaiveDateTime, i32)> = None;
    for o in tz.children.iter() {
        let Some(to) = o.get("TZOFFSETTO").and_then(|l| offset(&l.value)) else {
            continue;
        };
        let Some(start) = o.get("DTSTART").and_then(time).map(|x| x.local()) else {
            continue;
        };
        let mut onsets = vec![start];
        if let Some(rule) = o.get("RRULE") {
            for year in [t.year() - 1, t.year()] {
                if let Some(d) = yearly_onset(&rule.value, year, start.time()) {
                    if d >= start {
                        onsets.push(d);
                    }
                }
            }
        }
        for onset in onsets.into_iter().filter(|d| *d <= t) {
            if best.is_none_or(|(b, _)| onset > b) {
                best = Some((onset, to));
            }
        }
    }
    best.map(|(_, o)| o)
}

/// `+0200` / `-0530` in seconds.
fn offset(v: &str) -> Option<i32> {
    let v = v.trim();
    let sign = if v.starts_with('-') { -1 } else { 1 };
    let digits: String = v.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..4].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

/// The onset in `year` of a yearly observance rule (`BYMONTH=3;BYDAY=-1SU`).
fn yearly_onset(rule: &str, year: i32, at: NaiveTime) -> Option<NaiveDateTime> {
    let parts = rule_parts(rule);
    let month: u32 = parts.get("BYMONTH")?.parse().ok()?;
    let day = parts.get("BYDAY")?;
    let (n, wd) = ordinal_day(day)?;
    Some(nth_weekday(year, month, n?, wd)?.and_time(at))
}

/// The parts of an RRULE, names upper case.
pub fn rule_parts(rule: &str) -> std::collections::BTreeMap<String, String> {
    rule.split(';')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_ascii_uppercase()))
        .collect()
}

/// `-1SU` → (Some(-1), Sunday); `MO` → (None, Monday).
pub fn ordinal_day(v: &str) -> Option<(Option<i32>, Weekday)> {
    let v = v.trim();
    let split = v.len().checked_sub(2)?;
    let wd = match &v[split..] {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    };
    let n = &v[..split];
    Some((
        if n.is_empty() {
            None
        } else {
            Some(n.trim_start_matches('+').parse().ok()?)
        },
        wd,
    ))
}

/// The `n`-th (negative: from the end) weekday `wd` of a month.
pub fn nth_weekday(year: i32, month: u32, n: i32, wd: Weekday) -> Option<NaiveDate> {
    if n > 0 {
        NaiveDate::from_weekday_of_month_opt(year, month, wd, n as u8)
    } else {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        let mut d = next.pred_opt()?;
        while d.weekday() != wd {
            d = d.pred_opt()?;
        }
        d.checked_sub_signed(Duration::weeks(i64::from(-n - 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds() {
        assert_eq!(duration("-PT15M"), Some(-900));
        assert_eq!(duration("P1DT2H"), Some(93_600));
        assert_eq!(duration("P2W"), Some(1_209_600));
        assert_eq!(duration("PT"), Some(0));
        assert_eq!(duration("15M"), None);
    }

    #[test]
    fn zone_names_graph_knows_pass_and_others_do_not() {
        assert_eq!(
            graph_zone("Europe/Berlin").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            graph_zone("/freeassociation.sourceforge.net/Tzfile/Europe/Berlin").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            graph_zone("W. Europe Standard Time").as_deref(),
            Some("W. Europe Standard Time")
        );
        assert_eq!(graph_zone("My own zone"), None);
    }

    #[test]
    fn a_vtimezone_gives_summer_and_winter_offsets() {
        let tz = super::super::lines::tree(
            b"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
              DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n\
              TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
              END:STANDARD\r\nEND:VTIMEZONE\r\n",
        )
        .unwrap();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap();
        assert_eq!(offset_at(&tz, at("20260115T090000")), Some(3600));
        assert_eq!(offset_at(&tz, at("20260715T090000")), Some(7200));
        assert_eq!(offset_at(&tz, at("20260329T010000")), Some(3600));
        assert_eq!(offset_at(&tz, at("20260329T030000")), Some(7200));
    }
}

/// The IANA zone of a Windows zone name Graph uses (the common ones).
fn iana_of(zone: &str) -> &str {
    match zone {
        "GMT Standard Time" => "Europe/London",
        "W. Europe Standard Time" => "Europe/Berlin",
        "Romance Standard Time" => "Europe/Paris",
        "Central Europe Standard Time" => "Europe/Budapest",
        "Central European Standard Time" => "Europe/Warsaw",
        "E. Europe Standard Time" => "Europe/Chisinau",
        "FLE Standard Time" => "Europe/Kiev",
        "GTB Standard Time" => "Europe/Bucharest",
        "Russian Standard Time" => "Europe/Moscow",
        "Eastern Standard Time" => "America/New_York",
        "Central Standard Time" => "America/Chicago",
        "Mountain Standard Time" => "America/Denver",
        "US Mountain Standard Time" => "America/Phoenix",
        "Pacific Standard Time" => "America/Los_Angeles",
        "Alaskan Standard Time" => "America/Anchorage",
        "Hawaiian Standard Time" => "Pacific/Honolulu",
        "Atlantic Standard Time" => "America/Halifax",
        "E. South America Standard Time" => "America/Sao_Paulo",
        "India Standard Time" => "Asia/Kolkata",
        "China Standard Time" => "Asia/Shanghai",
        "Tokyo Standard Time" => "Asia/Tokyo",
        "Singapore Standard Time" => "Asia/Singapore",
        "AUS Eastern Standard Time" => "Australia/Sydney",
        "New Zealand Standard Time" => "Pacific/Auckland",
        "South Africa Standard Time" => "Africa/Johannesburg",
        "Arabian Standard Time" => "Asia/Dubai",
        "Israel Standard Time" => "Asia/Jerusalem",
        "Turkey Standard Time" => "Europe/Istanbul",
        other => other,
    }
}

/// A POSIX TZ rule date (`M3.5.0/3`): month, week (5: last), weekday, seconds.
fn posix_rule(rule: &str) -> Option<(u32, i32, Weekday, i64)> {
    let (date, at) = match rule.split_once('/') {
        Some((d, t)) => (d, posix_seconds(t)?),
        None => (rule, 7200),
    };
    let mut parts = date.strip_prefix('M')?.split('.');
    let month: u32 = parts.next()?.parse().ok()?;
    let week: i32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let wd = Weekday::try_from(((day + 6) % 7) as u8).ok()?;
    Some((month, if week == 5 { -1 } else { week }, wd, at))
}

/// `2`, `-1:30`, `+5:45` as seconds.
fn posix_seconds(v: &str) -> Option<i64> {
    let (sign, v) = match v.as_bytes().first()? {
        b'-' => (-1, &v[1..]),
        b'+' => (1, &v[1..]),
        _ => (1, v),
    };
    let mut total = 0i64;
    for (i, p) in v.split(':').enumerate() {
        total += p.parse::<i64>().ok()? * [3600, 60, 1].get(i)?;
    }
    Some(sign * total)
}

/// A zone name of a POSIX TZ string (`CET`, `<+0545>`) and the rest.
fn posix_name(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('<') {
        let end = rest.find('>')?;
        return Some((&rest[..end], &rest[end + 1..]));
    }
    let end = s
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(s.len());
    (end >= 3).then(|| (&s[..end], &s[end..]))
}

fn offset_text(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    format!("{sign}{:02}{:02}", s / 3600, s % 3600 / 60)
}

/// A VTIMEZONE for a zone Graph names (IANA or Windows), from the
/// system's time-zone database (its rule for today's years); None when
/// the system does not know it.
pub fn vtimezone(zone: &str) -> Option<Vec<String>> {
    let iana = iana_of(zone);
    if iana.contains("..") || !iana.contains('/') {
        return None;
    }
    let bytes = std::fs::read(Path::new("/usr/share/zoneinfo").join(iana)).ok()?;
    let text = String::from_utf8_lossy(bytes.strip_suffix(b"\n")?);
    let footer = &text[text.rfind('\n')? + 1..];
    vtimezone_of(zone, footer)
}

/// A VTIMEZONE named `tzid` of a POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`).
fn vtimezone_of(tzid: &str, posix: &str) -> Option<Vec<String>> {
    let (std_name, rest) = posix_name(posix)?;
    let std_end = rest
        .find(|c: char| c.is_ascii_alphabetic() || c == '<' || c == ',')
        .unwrap_or(rest.len());
    let std_offset = -posix_seconds(&rest[..std_end])?;
    let rest = &rest[std_end..];
    let mut out = vec!["BEGIN:VTIMEZONE".to_owned(), format!("TZID:{tzid}")];
    let observance =
        |kind: &str, name: &str, from: i64, to: i64, rule: Option<(u32, i32, Weekday, i64)>| {
            let mut o = vec![format!("BEGIN:{kind}")];
            match rule {
                Some((month, week, wd, at)) => {
                    let day = nth_weekday(1970, month, week, wd)?;
                    let start = day.and_time(NaiveTime::MIN) + Duration::seconds(at);
                    o.push(format!("DTSTART:{}", start.format("%Y%m%dT%H%M%S")));
                    let code = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
                        [wd.num_days_from_monday() as usize];
                    o.push(format!(
                        "RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={week}{code}"
                    ));
                }
                None => o.push("DTSTART:19700101T000000".to_owned()),
            }
            o.push(format!("TZOFFSETFROM:{}", offset_text(from)));
            o.push(format!("TZOFFSETTO:{}", offset_text(to)));
            o.push(format!("TZNAME:{name}"));
            o.push(format!("END:{kind}"));
            Some(o)
        };
    if rest.is_empty() {
        out.extend(observance(
            "STANDARD", std_name, std_offset, std_offset, None,
        )?);
    } else {
        let (dst_name, rest) = posix_name(rest)?;
        let (dst_offset, rules) = match rest.split_once(',') {
            Some((o, r)) if !o.is_empty() => (-posix_seconds(o)?, r),
            Some((_, r)) => (std_offset + 3600, r),
            None => return None,
        };
        let (start, end) = rules.split_once(',')?;
        out.extend(observance(
            "DAYLIGHT",
            dst_name,
            std_offset,
            dst_offset,
            Some(posix_rule(start)?),
        )?);
        out.extend(observance(
            "STANDARD",
            std_name,
            dst_offset,
            std_offset,
            Some(posix_rule(end)?),
        )?);
    }
    out.push("END:VTIMEZONE".to_owned());
    Some(out)
}

#[cfg(test)]
mod zones {
    use super::*;

    #[test]
    fn posix_rules_become_vtimezones_that_give_the_same_offsets() {
        let v = vtimezone_of("W. Europe Standard Time", "CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        let text = v.join("\r\n") + "\r\n";
        assert!(text.contains("BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200"), "{text}");
        assert!(text.contains("DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"), "{text}");
        let tz = super::super::lines::tree(text.as_bytes()).unwrap();
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap();
        assert_eq!(offset_at(&tz, at("20260715T090000")), Some(7200));
        assert_eq!(offset_at(&tz, at("20261215T090000")), Some(3600));
        let india = vtimezone_of("India Standard Time", "IST-5:30").unwrap();
        assert!(india.contains(&"TZOFFSETTO:+0530".to_owned()), "{india:?}");
        let nepal = vtimezone_of("Asia/Kathmandu", "<+0545>-5:45").unwrap();
        assert!(nepal.contains(&"TZNAME:+0545".to_owned()), "{nepal:?}");
    }
}
