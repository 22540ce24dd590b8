//! vCard 3/4 ⇄ Microsoft Graph `contact`
//! (<https://learn.microsoft.com/graph/api/resources/contact>).
//!
//! What a contact resource has no field for is listed, per card, in plain
//! words; a group card (`KIND:group`, Apple's `X-ADDRESSBOOKSERVER-KIND`)
//! is refused: Outlook contacts have no groups.

use super::lines::{self, Line};
use serde_json::{json, Map, Value};

/// A card converted: the contact's JSON, its photo and what did not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The `contact` resource to create.
    pub contact: Value,
    /// The photo's bytes, to `PUT …/photo/$value`.
    pub photo: Option<Vec<u8>>,
    /// What did not carry over, in plain words.
    pub losses: Vec<String>,
}

/// Why a card cannot become an Outlook contact.
pub const GROUP_REASON: &str =
    "it is a contact group: Outlook contacts have no groups, so it stays behind";

/// Whether the card is a group (vCard 4 `KIND:group`, Apple's vCard 3 kind).
pub fn is_group(bytes: &[u8]) -> bool {
    lines::parse(bytes).iter().any(|l| {
        (l.name == "KIND" || l.name == "X-ADDRESSBOOKSERVER-KIND")
            && l.value.trim().eq_ignore_ascii_case("group")
    })
}

/// The Graph contact of a vCard, or why it cannot be one.
pub fn to_graph(bytes: &[u8]) -> Result<Converted, String> {
    if is_group(bytes) {
        return Err(GROUP_REASON.to_owned());
    }
    let all = lines::parse(bytes);
    let mut c = Map::new();
    let mut losses: Vec<String> = Vec::new();
    let mut photo = None;
    let mut emails: Vec<Value> = Vec::new();
    let (mut business, mut home, mut mobile): (Vec<String>, Vec<String>, Option<String>) =
        (Vec::new(), Vec::new(), None);
    let mut addresses = Map::new();
    let mut categories: Vec<String> = Vec::new();
    let mut im: Vec<String> = Vec::new();
    let lost = |what: &str, losses: &mut Vec<String>| {
        if !losses.iter().any(|l| l == what) {
            losses.push(what.to_owned());
        }
    };
    for l in &all {
        match l.name.as_str() {
            "BEGIN" | "END" | "VERSION" | "UID" | "PRODID" | "REV" | "KIND" | "N" => {}
            "FN" => set(&mut c, "displayName", l.text()),
            "NICKNAME" => {
                let names = l.list();
                if let Some(first) = names.first() {
                    set(&mut c, "nickName", first.clone());
                }
                if names.len() > 1 {
                    lost("nicknames after the first", &mut losses);
                }
            }
            "EMAIL" => {
                if emails.len() == 3 {
                    lost(
                        "e-mail addresses after the third (Outlook keeps three)",
                        &mut losses,
                    );
                } else {
                    emails.push(json!({ "address": l.text().trim(), "name": l.text().trim() }));
                }
            }
            "TEL" => {
                let number = l.text().trim().trim_start_matches("tel:").to_owned();
                if l.has_type("FAX") || l.has_type("PAGER") {
                    lost("fax and pager numbers", &mut losses);
                } else if l.has_type("CELL") || l.has_type("IPHONE") || l.has_type("MOBILE") {
                    if mobile.is_none() {
                        mobile = Some(number);
                    } else {
                        business.push(number);
                        lost(
                            "a second mobile number (kept as a business number)",
                            &mut losses,
                        );
                    }
                } else if l.has_type("HOME") {
                    home.push(number);
                } else {
                    business.push(number);
                }
            }
            "ADR" => {
                let key = if l.has_type("HOME") {
                    "homeAddress"
                } else if l.has_type("WORK") {
                    "businessAddress"
                } else {
                    "otherAddress"
                };
                if addresses.contains_key(key) {
                    lost("a second address of the same kind", &mut losses);
                } else {
                    addresses.insert(key.to_owned(), address(l));
                }
            }
            "ORG" => {
                let parts = l.components();
                if let Some(company) = parts.first().filter(|s| !s.is_empty()) {
                    set(&mut c, "companyName", company.clone());
                }
                let department: Vec<&String> =
                    parts.iter().skip(1).filter(|s| !s.is_empty()).collect();
                if !department.is_empty() {
                    set(
                        &mut c,
                        "department",
                        department
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    );
                }
            }
            "TITLE" => set(&mut c, "jobTitle", l.text()),
            "ROLE" => set(&mut c, "profession", l.text()),
            "BDAY" => match birthday(&l.value) {
                Some(b) => set(&mut c, "birthday", b),
                None => lost("the birthday (Outlook needs a full date)", &mut losses),
            },
            "NOTE" => {
                let text = l.text();
                let joined = match c.get("personalNotes").and_then(Value::as_str) {
                    Some(before) => format!("{before}\n\n{text}"),
                    None => text,
                };
                set(&mut c, "personalNotes", joined);
            }
            "CATEGORIES" => categories.extend(l.list()),
            "URL" => {
                if c.contains_key("businessHomePage") {
                    lost("web addresses after the first", &mut losses);
                } else {
                    set(&mut c, "businessHomePage", l.text());
                }
            }
            "IMPP" | "X-AIM" | "X-JABBER" | "X-SKYPE" | "X-MSN" | "X-ICQ" | "X-YAHOO" => {
                im.push(l.text())
            }
            "X-SPOUSE" => set(&mut c, "spouseName", l.text()),
            "RELATED" if l.has_type("SPOUSE") => set(&mut c, "spouseName", l.text()),
            "PHOTO" => match photo_bytes(l) {
                Some(b) if photo.is_none() => photo = Some(b),
                Some(_) => lost("photos after the first", &mut losses),
                None => lost(
                    "the photo (a link or an unreadable picture, not one Outlook can take)",
                    &mut losses,
                ),
            },
            "X-PHONETIC-FIRST-NAME" => set(&mut c, "yomiGivenName", l.text()),
            "X-PHONETIC-LAST-NAME" => set(&mut c, "yomiSurname", l.text()),
            "X-ANNIVERSARY" | "ANNIVERSARY" => lost("the anniversary", &mut losses),
            "GEO" => lost("the map position", &mut losses),
            "KEY" => lost("the encryption key", &mut losses),
            "SOUND" => lost("the name's sound", &mut losses),
            "MEMBER" => {}
            "RELATED" => lost("related people other than the spouse", &mut losses),
            "X-ABLABEL" | "X-ABUID" | "X-ABSHOWAS" | "CLIENTPIDMAP" | "SOURCE" | "SORT-STRING" => {}
            other if other.starts_with("X-") => {}
            other => lost(
                &format!("the {} field", other.to_ascii_lowercase()),
                &mut losses,
            ),
        }
    }
    if let Some(n) = all.iter().find(|l| l.name == "N") {
        let parts = n.components();
        let field = |i: usize| {
            parts
                .get(i)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        if let Some(v) = field(0) {
            set(&mut c, "surname", v);
        }
        if let Some(v) = field(1) {
            set(&mut c, "givenName", v);
        }
        if let Some(v) = field(2) {
            set(&mut c, "middleName", v);
        }
        if let Some(v) = field(3) {
            set(&mut c, "title", v);
        }
        if let Some(v) = field(4) {
            set(&mut c, "generation", v);
        }
    }
    if !emails.is_empty() {
        c.insert("emailAddresses".into(), Value::Array(emails));
    }
    if !business.is_empty() {
        c.insert("businessPhones".into(), json!(business));
    }
    if !home.is_empty() {
        c.insert("homePhones".into(), json!(home));
    }
    if let Some(m) = mobile {
        set(&mut c, "mobilePhone", m);
    }
    if !categories.is_empty() {
        c.insert("categories".into(), json!(categories));
    }
    if !im.is_empty() {
        c.insert("imAddresses".into(), json!(im));
    }
    c.extend(addresses);
    Ok(Converted {
        contact: Value::Object(c),
        photo,
        losses,
    })
}

fn set(c: &mut Map<String, Value>, key: &str, value: String) {
    c.insert(key.to_owned(), Value::String(value));
}

fn address(l: &Line) -> Value {
    let p = l.components();
    let at = |i: usize| p.get(i).map(|s| s.trim().to_owned()).unwrap_or_default();
    let street: Vec<String> = [at(0), at(1), at(2)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    json!({
        "street": street.join("\n"),
        "city": at(3),
        "state": at(4),
        "postalCode": at(5),
        "countryOrRegion": at(6),
    })
}

/// A vCard birthday (`19830525`, `1983-05-25`, with a time or not) as
/// Graph's `2019-01-05T00:00:00Z`; None without a year.
fn birthday(value: &str) -> Option<String> {
    let v = value.trim();
    if v.starts_with("--") {
        return None;
    }
    let date: String = v
        .split('T')
        .next()?
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if date.len() != 8 {
        return None;
    }
    Some(format!(
        "{}-{}-{}T00:00:00Z",
        &date[..4],
        &date[4..6],
        &date[6..8]
    ))
}

/// The bytes of an inline photo (vCard 3 `ENCODING=b`, vCard 4 `data:` URI).
fn photo_bytes(l: &Line) -> Option<Vec<u8>> {
    use base64::Engine;
    let value = l.value.trim();
    let b64 = if let Some(rest) = value.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',')?;
        if !meta.ends_with(";base64") {
            return None;
        }
        data.to_owned()
    } else if l
        .param("ENCODING")
        .is_some_and(|e| e.eq_ignore_ascii_case("b") || e.eq_ignore_ascii_case("base64"))
    {
        value.to_owned()
    } else {
        return None;
    };
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// A vCard 4 of a Graph contact (its `photo` given apart); `uid` is the
/// card's UID (the source UID kept in the contact, else its Graph id).
pub fn from_graph(contact: &Value, uid: &str, photo: Option<&[u8]>) -> Vec<u8> {
    let s = |k: &str| {
        contact[k]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let mut out = String::new();
    let mut put = |line: String| lines::push_folded(&mut out, &line);
    put("BEGIN:VCARD".into());
    put("VERSION:4.0".into());
    put(format!("UID:{}", lines::escape(uid)));
    let display = s("displayName").unwrap_or_default();
    put(format!("FN:{}", lines::escape(&display)));
    let n: Vec<String> = ["surname", "givenName", "middleName", "title", "generation"]
        .iter()
        .map(|k| lines::escape(&s(k).unwrap_or_default()))
        .collect();
    if n.iter().any(|p| !p.is_empty()) {
        put(format!("N:{}", n.join(";")));
    }
    if let Some(v) = s("nickName") {
        put(format!("NICKNAME:{}", lines::escape(&v)));
    }
    for e in contact["emailAddresses"].as_array().into_iter().flatten() {
        if let Some(a) = e["address"].as_str().filter(|a| !a.is_empty()) {
            put(format!("EMAIL:{a}"));
        }
    }
    for (key, kind) in [("businessPhones", "work"), ("homePhones", "home")] {
        for p in contact[key].as_array().into_iter().flatten() {
            if let Some(p) = p.as_str().filter(|p| !p.is_empty()) {
                put(format!(
                    "TEL;TYPE={kind},voice;VALUE=text:{}",
                    lines::escape(p)
                ));
            }
        }
    }
    if let Some(m) = s("mobilePhone") {
        put(format!("TEL;TYPE=cell;VALUE=text:{}", lines::escape(&m)));
    }
    for (key, kind) in [
        ("homeAddress", Some("home")),
        ("businessAddress", Some("work")),
        ("otherAddress", None),
    ] {
        let a = &contact[key];
        let f = |k: &str| lines::escape(a[k].as_str().unwrap_or(""));
        let parts = [
            f("street"),
            f("city"),
            f("state"),
            f("postalCode"),
            f("countryOrRegion"),
        ];
        if parts.iter().all(String::is_empty) {
            continue;
        }
        let street = &parts[0];
        let typ = kind.map(|k| format!(";TYPE={k}")).unwrap_or_default();
        put(format!(
            "ADR{typ}:;;{street};{};{};{};{}",
            parts[1], parts[2], parts[3], parts[4]
        ));
    }
    match (s("companyName"), s("department")) {
        (None, None) => {}
        (company, department) => put(format!(
            "ORG:{};{}",
            lines::escape(&company.unwrap_or_default()),
            lines::escape(&department.unwrap_or_default())
        )),
    }
    if let Some(v) = s("jobTitle") {
        put(format!("TITLE:{}", lines::escape(&v)));
    }
    if let Some(v) = s("profession") {
        put(format!("ROLE:{}", lines::escape(&v)));
    }
    if let Some(b) = s("birthday") {
        let date: String = b.chars().take(10).filter(char::is_ascii_digit).collect();
        if date.len() == 8 {
            put(format!("BDAY:{date}"));
        }
    }
    if let Some(v) = s("personalNotes") {
        put(format!("NOTE:{}", lines::escape(&v)));
    }
    if let Some(line) = lines::categories_line(contact) {
        put(line);
    }
    if let Some(v) = s("businessHomePage") {
        put(format!("URL:{v}"));
    }
    for i in contact["imAddresses"].as_array().into_iter().flatten() {
        if let Some(i) = i.as_str() {
            put(format!("IMPP:{i}"));
        }
    }
    if let Some(v) = s("spouseName") {
        put(format!(
            "RELATED;TYPE=spouse;VALUE=text:{}",
            lines::escape(&v)
        ));
    }
    if let Some(bytes) = photo {
        use base64::Engine;
        let kind = if bytes.starts_with(b"\x89PNG") {
            "png"
        } else {
            "jpeg"
        };
        put(format!(
            "PHOTO:data:image/{kind};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ));
    }
    put("END:VCARD".into());
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-1\r\nFN:Dr. Anna Maria Baker Jr.\r\n\
        N:Baker;Anna;Maria;Dr.;Jr.\r\nNICKNAME:Annie\r\nEMAIL;TYPE=INTERNET,WORK:anna@bakery.example\r\n\
        EMAIL;TYPE=HOME:anna@home.example\r\nTEL;TYPE=CELL:+49 170 1\r\nTEL;TYPE=WORK,VOICE:+49 30 2\r\n\
        TEL;TYPE=HOME:+49 30 3\r\nTEL;TYPE=FAX:+49 30 4\r\nADR;TYPE=WORK:;Floor 2;Hauptstraße 1;Berlin;BE;10115;Germany\r\n\
        ADR;TYPE=HOME:;;Gartenweg 5;Potsdam;;14467;Germany\r\nORG:Bakery GmbH;Sales;North\r\nTITLE:Head of sales\r\n\
        BDAY:1983-05-25\r\nNOTE:Met at the fair\\, 2024\\nsecond line\r\nCATEGORIES:Clients,VIP\r\n\
        URL:https://bakery.example\r\nX-SPOUSE:Ben\r\nPHOTO;ENCODING=b;TYPE=PNG:iVBORw0K\r\n GgoAAAA=\r\n\
        GEO:52.5;13.4\r\nEND:VCARD\r\n";

    #[test]
    fn a_vcard_3_becomes_a_graph_contact_field_by_field() {
        let c = to_graph(CARD3.as_bytes()).unwrap();
        let g = &c.contact;
        assert_eq!(g["displayName"], "Dr. Anna Maria Baker Jr.");
        assert_eq!(g["surname"], "Baker");
        assert_eq!(g["givenName"], "Anna");
        assert_eq!(g["middleName"], "Maria");
        assert_eq!(g["title"], "Dr.");
        assert_eq!(g["generation"], "Jr.");
        assert_eq!(g["nickName"], "Annie");
        assert_eq!(g["emailAddresses"][0]["address"], "anna@bakery.example");
        assert_eq!(g["emailAddresses"][1]["address"], "anna@home.example");
        assert_eq!(g["mobilePhone"], "+49 170 1");
        assert_eq!(g["businessPhones"], json!(["+49 30 2"]));
        assert_eq!(g["homePhones"], json!(["+49 30 3"]));
        assert_eq!(g["businessAddress"]["street"], "Floor 2\nHauptstraße 1");
        assert_eq!(g["businessAddress"]["city"], "Berlin");
        assert_eq!(g["businessAddress"]["state"], "BE");
        assert_eq!(g["businessAddress"]["postalCode"], "10115");
        assert_eq!(g["businessAddress"]["countryOrRegion"], "Germany");
        assert_eq!(g["homeAddress"]["city"], "Potsdam");
        assert_eq!(g["companyName"], "Bakery GmbH");
        assert_eq!(g["department"], "Sales, North");
        assert_eq!(g["jobTitle"], "Head of sales");
        assert_eq!(g["birthday"], "1983-05-25T00:00:00Z");
        assert_eq!(g["personalNotes"], "Met at the fair, 2024\nsecond line");
        assert_eq!(g["categories"], json!(["Clients", "VIP"]));
        assert_eq!(g["businessHomePage"], "https://bakery.example");
        assert_eq!(g["spouseName"], "Ben");
        assert_eq!(c.photo.as_deref(), Some(&b"\x89PNG\r\n\x1a\n\0\0\0"[..]));
        assert_eq!(
            c.losses,
            vec![
                "fax and pager numbers".to_owned(),
                "the map position".to_owned()
            ]
        );
    }

    #[test]
    fn a_vcard_4_photo_and_groups() {
        let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:x\r\nFN:Zoe\r\nBDAY:--0412\r\n\
            PHOTO:data:image/png;base64,iVBORw0KGgoAAAA=\r\nEND:VCARD\r\n";
        let c = to_graph(card.as_bytes()).unwrap();
        assert_eq!(c.photo.as_deref(), Some(&b"\x89PNG\r\n\x1a\n\0\0\0"[..]));
        assert!(c.contact.get("birthday").is_none());
        assert_eq!(c.losses, vec!["the birthday (Outlook needs a full date)"]);
        let group = b"BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:Team\r\nEND:VCARD\r\n";
        assert_eq!(to_graph(group).unwrap_err(), GROUP_REASON);
        let apple = b"BEGIN:VCARD\r\nVERSION:3.0\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nFN:T\r\nEND:VCARD\r\n";
        assert!(is_group(apple));
    }

    #[test]
    fn a_graph_contact_comes_back_as_the_same_fields() {
        let c = to_graph(CARD3.as_bytes()).unwrap();
        let card = from_graph(&c.contact, "c-1", c.photo.as_deref());
        let again = to_graph(&card).unwrap();
        assert_eq!(
            again.contact,
            c.contact,
            "{}",
            String::from_utf8_lossy(&card)
        );
        assert_eq!(again.photo, c.photo);
        assert!(again.losses.is_empty(), "{:?}", again.losses);
        assert!(String::from_utf8_lossy(&card).contains("\r\nUID:c-1\r\n"));
    }
}
