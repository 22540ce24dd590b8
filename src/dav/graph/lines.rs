//! Content lines of vCard (RFC 6350 §3.3) and iCalendar (RFC 5545 §3.1),
//! read into name, parameters and value, and written back folded: the
//! little of both formats the conversions to and from Graph need.

/// One logical (unfolded) content line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The property name, upper case, without its group (`item1.`).
    pub name: String,
    /// The parameters: upper-case name, values (quotes removed, split at commas).
    pub params: Vec<(String, Vec<String>)>,
    /// The raw value (still escaped).
    pub value: String,
}

impl Line {
    /// The values of parameter `name` (case-insensitive), each upper case.
    pub fn param_upper(&self, name: &str) -> Vec<String> {
        self.params
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.iter().map(|s| s.to_ascii_uppercase()))
            .collect()
    }

    /// The first value of parameter `name`, as written.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }

    /// Whether its TYPE parameter (vCard 3 and 4 alike) holds `t`.
    pub fn has_type(&self, t: &str) -> bool {
        self.param_upper("TYPE")
            .iter()
            .any(|v| v.eq_ignore_ascii_case(t))
    }

    /// The value as text (escapes undone).
    pub fn text(&self) -> String {
        unescape(&self.value)
    }

    /// The value's components split at unescaped `;`, each unescaped.
    pub fn components(&self) -> Vec<String> {
        split_unescaped(&self.value, ';')
            .into_iter()
            .map(|s| unescape(&s))
            .collect()
    }

    /// The value split at unescaped `,`, each unescaped, empty ones left out.
    pub fn list(&self) -> Vec<String> {
        split_unescaped(&self.value, ',')
            .into_iter()
            .map(|s| unescape(s.trim()))
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The logical lines of an object (folded lines joined); lines that are
/// not content lines are left out.
pub fn parse(bytes: &[u8]) -> Vec<Line> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let mut logical: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t']) {
            if let Some(last) = logical.last_mut() {
                last.push_str(rest);
                continue;
            }
        }
        if !raw.is_empty() {
            logical.push(raw.to_owned());
        }
    }
    logical.iter().filter_map(|l| parse_line(l)).collect()
}

fn parse_line(line: &str) -> Option<Line> {
    let mut quoted = false;
    let mut colon = None;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = colon?;
    let head = &line[..colon];
    let value = line[colon + 1..].to_owned();
    let mut parts = split_outside_quotes(head, ';').into_iter();
    let name = parts.next()?;
    let name = name
        .rsplit('.')
        .next()
        .unwrap_or(&name)
        .to_ascii_uppercase();
    if name.is_empty() {
        return None;
    }
    let params = parts
        .map(|p| match p.split_once('=') {
            Some((n, v)) => {
                let n = n.to_ascii_uppercase();
                let values = split_outside_quotes(v, ',')
                    .into_iter()
                    .map(|s| s.trim_matches('"').to_owned());
                // `TYPE="work,pref"` (vCard 4) is two types.
                let values = if n == "TYPE" {
                    values
                        .flat_map(|s| s.split(',').map(str::to_owned).collect::<Vec<_>>())
                        .collect()
                } else {
                    values.collect()
                };
                (n, values)
            }
            // vCard 2.1 style bare types (`TEL;CELL:`).
            None => ("TYPE".to_owned(), vec![p.to_owned()]),
        })
        .collect();
    Some(Line {
        name,
        params,
        value,
    })
}

fn split_outside_quotes(s: &str, at: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in s.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == at && !quoted {
            out.push(String::new());
        } else {
            out.last_mut().expect("never empty").push(c);
        }
    }
    out
}

fn split_unescaped(s: &str, at: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in s.chars() {
        let last = out.last_mut().expect("never empty");
        if escaped {
            last.push('\\');
            last.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == at {
            out.push(String::new());
        } else {
            last.push(c);
        }
    }
    if escaped {
        out.last_mut().expect("never empty").push('\\');
    }
    out
}

/// Undoes `\n`, `\,`, `\;` and `\\`.
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes text for a value (`\`, `;`, `,`, newlines).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.replace("\r\n", "\n").chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The `CATEGORIES` line of a Graph item's `categories`, when it has any.
pub fn categories_line(item: &serde_json::Value) -> Option<String> {
    let categories: Vec<String> = item["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(escape))
        .collect();
    (!categories.is_empty()).then(|| format!("CATEGORIES:{}", categories.join(",")))
}

/// Appends `line` folded at 75 octets (never inside a character), with CRLF.
pub fn push_folded(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

/// The components of an iCalendar object: (name, its own lines, children).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Component {
    /// `VEVENT`, `VALARM`, `VTIMEZONE`, …
    pub name: String,
    /// Its properties.
    pub lines: Vec<Line>,
    /// Components inside it.
    pub children: Vec<Component>,
}

impl Component {
    /// The first property `name`.
    pub fn get(&self, name: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.name == name)
    }

    /// Every property `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Line> + 'a {
        self.lines.iter().filter(move |l| l.name == name)
    }

    /// The children named `name`.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Component> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// The object's outermost component (VCALENDAR, VCARD), nested as written.
pub fn tree(bytes: &[u8]) -> Option<Component> {
    let mut stack: Vec<Component> = Vec::new();
    let mut done = None;
    for line in parse(bytes) {
        match line.name.as_str() {
            "BEGIN" => stack.push(Component {
                name: line.value.trim().to_ascii_uppercase(),
                ..Component::default()
            }),
            "END" => {
                let c = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(c),
                    None => {
                        done = Some(c);
                        break;
                    }
                }
            }
            _ => stack.last_mut()?.lines.push(line),
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_unfold_and_split_into_parameters_and_values() {
        let lines = parse(
            b"BEGIN:VCARD\r\nitem1.EMAIL;TYPE=\"work,pref\":a@b.example\r\nNOTE:one\\, two\\n\r\n  three\r\nTEL;CELL:1\r\n",
        );
        assert_eq!(lines[1].name, "EMAIL");
        assert!(lines[1].has_type("work") && lines[1].has_type("PREF"));
        assert_eq!(lines[2].text(), "one, two\n three");
        assert!(lines[3].has_type("cell"));
        let n = parse(b"N:Doe\\;Jr;John;;Dr.;\r\n");
        assert_eq!(n[0].components(), vec!["Doe;Jr", "John", "", "Dr.", ""]);
    }

    #[test]
    fn text_escapes_round_trip_and_long_lines_fold_between_characters() {
        let s = "a;b,c\\d\ne";
        assert_eq!(unescape(&escape(s)), s);
        let mut out = String::new();
        push_folded(&mut out, &format!("NOTE:{}", "ü".repeat(60)));
        assert!(out.split("\r\n").all(|l| l.len() <= 75), "{out}");
        assert_eq!(parse(out.as_bytes())[0].text(), "ü".repeat(60));
    }

    #[test]
    fn components_nest() {
        let t = tree(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nBEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").unwrap();
        let e = t.children("VEVENT").next().unwrap();
        assert_eq!(e.get("UID").unwrap().value, "1");
        assert_eq!(e.children("VALARM").count(), 1);
    }
}
