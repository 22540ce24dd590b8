//! The WebDAV XML MailFerry reads and writes: PROPFIND bodies, MKCOL and
//! MKCALENDAR bodies, and multistatus answers (RFC 4918 §13), read
//! namespace-aware so a server's prefixes never matter.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

/// The DAV: namespace.
pub(crate) const DAV: &str = "DAV:";
/// CardDAV's namespace (RFC 6352).
pub(crate) const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// CalDAV's namespace (RFC 4791).
pub(crate) const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// CalendarServer's extensions (getctag).
pub(crate) const CALSERVER: &str = "http://calendarserver.org/ns/";

/// One property's value as found in a 200 propstat.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Prop {
    /// Its text, trimmed (displayname, getetag, getcontenttype …).
    pub(crate) text: String,
    /// Every `href` inside it (current-user-principal, home sets).
    pub(crate) hrefs: Vec<String>,
    /// Its child elements as (namespace, local name): resourcetype's kinds.
    pub(crate) children: Vec<(String, String)>,
    /// The `name` attributes of `comp` children (supported-calendar-component-set).
    pub(crate) components: Vec<String>,
}

/// One `response` of a multistatus: its href and the properties the server
/// answered with 200.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// The resource, as the server wrote it (a path or a URL).
    pub(crate) href: String,
    /// The resource's own status, when given instead of propstats (404 …).
    pub(crate) status: Option<u16>,
    /// (namespace, local name) → value.
    pub(crate) props: Vec<((String, String), Prop)>,
}

impl Response {
    /// The value of property `local` in namespace `ns`.
    pub(crate) fn prop(&self, ns: &str, local: &str) -> Option<&Prop> {
        self.props
            .iter()
            .find(|((n, l), _)| n == ns && l == local)
            .map(|(_, p)| p)
    }

    /// Whether resourcetype holds `ns:local` (collection, addressbook, calendar).
    pub(crate) fn is(&self, ns: &str, local: &str) -> bool {
        self.prop(DAV, "resourcetype")
            .is_some_and(|p| p.children.iter().any(|(n, l)| n == ns && l == local))
    }

    /// A property's text, when present and not empty.
    pub(crate) fn text(&self, ns: &str, local: &str) -> Option<String> {
        self.prop(ns, local)
            .map(|p| p.text.clone())
            .filter(|t| !t.is_empty())
    }
}

/// Reads a multistatus document; None when it is not one.
pub(crate) fn parse_multistatus(xml: &str) -> Option<Vec<Response>> {
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut responses = Vec::new();
    let mut seen_multistatus = false;
    // The element path from the root, as (namespace, local name).
    let mut path: Vec<(String, String)> = Vec::new();
    let mut current: Option<Response> = None;
    // The propstat being read: its properties, and its status when read.
    let mut propstat: Vec<((String, String), Prop)> = Vec::new();
    let mut propstat_status: Option<u16> = None;
    let mut text = String::new();
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok(x) => x,
            Err(_) => return None,
        };
        let ns = match ns {
            ResolveResult::Bound(n) => n.as_ref().to_owned(),
            _ => String::new(),
        };
        let empty = matches!(event, Event::Empty(_));
        match event {
            // An empty element (`<x/>`) opens and closes at once.
            Event::Start(e) | Event::Empty(e) => {
                let local = e.local_name().as_ref().to_owned();
                open(
                    &mut path,
                    &mut current,
                    &mut propstat,
                    &mut seen_multistatus,
                    &ns,
                    &local,
                    &e,
                );
                if empty {
                    close(
                        &mut path,
                        &mut current,
                        &mut propstat,
                        &mut propstat_status,
                        &mut responses,
                        "",
                    );
                } else {
                    text.clear();
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    text.push_str(match r.as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(_) => {
                let t = std::mem::take(&mut text);
                close(
                    &mut path,
                    &mut current,
                    &mut propstat,
                    &mut propstat_status,
                    &mut responses,
                    t.trim(),
                );
            }
            Event::Eof => break,
            _ => {}
        }
    }
    seen_multistatus.then_some(responses)
}

#[allow(clippy::too_many_arguments)]
fn open(
    path: &mut Vec<(String, String)>,
    current: &mut Option<Response>,
    propstat: &mut Vec<((String, String), Prop)>,
    seen_multistatus: &mut bool,
    ns: &str,
    local: &str,
    e: &quick_xml::events::BytesStart<'_>,
) {
    if path.is_empty() && ns == DAV && local == "multistatus" {
        *seen_multistatus = true;
    }
    if ns == DAV && local == "response" && path.len() == 1 {
        *current = Some(Response::default());
    }
    if ns == DAV && local == "propstat" {
        propstat.clear();
    }
    // Inside prop: depth of `prop` + 1 is a property; deeper are its children.
    if let Some(prop_at) = path.iter().position(|(n, l)| n == DAV && l == "prop") {
        let depth = path.len() - prop_at;
        if depth == 1 {
            propstat.push(((ns.to_owned(), local.to_owned()), Prop::default()));
        } else if depth == 2 {
            if let Some((_, p)) = propstat.last_mut() {
                p.children.push((ns.to_owned(), local.to_owned()));
                if local == "comp" {
                    if let Ok(Some(a)) = e.try_get_attribute("name") {
                        p.components.push(a.value.into_owned());
                    }
                }
            }
        }
    }
    path.push((ns.to_owned(), local.to_owned()));
}

fn close(
    path: &mut Vec<(String, String)>,
    current: &mut Option<Response>,
    propstat: &mut Vec<((String, String), Prop)>,
    propstat_status: &mut Option<u16>,
    responses: &mut Vec<Response>,
    text: &str,
) {
    let Some((ns, local)) = path.pop() else {
        return;
    };
    let in_prop = path.iter().position(|(n, l)| n == DAV && l == "prop");
    if let Some(prop_at) = in_prop {
        let depth = path.len() - prop_at;
        if let Some((_, p)) = propstat.last_mut() {
            if ns == DAV && local == "href" {
                p.hrefs.push(text.to_owned());
            } else if depth == 1 && !text.is_empty() {
                p.text = text.to_owned();
            }
        }
        return;
    }
    if ns != DAV {
        return;
    }
    match local.as_str() {
        "href" => {
            if let Some(r) = current.as_mut() {
                if path.last().is_some_and(|(_, l)| l == "response") && r.href.is_empty() {
                    r.href = text.to_owned();
                }
            }
        }
        "status" => {
            let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok());
            if path.last().is_some_and(|(_, l)| l == "propstat") {
                *propstat_status = code;
            } else if let Some(r) = current.as_mut() {
                r.status = code;
            }
        }
        "propstat" => {
            if let (Some(r), Some(200)) = (current.as_mut(), *propstat_status) {
                r.props.append(propstat);
            }
            propstat.clear();
            *propstat_status = None;
        }
        "response" => {
            if let Some(r) = current.take() {
                responses.push(r);
            }
        }
        _ => {}
    }
}

/// A PROPFIND body asking for these properties, each (namespace, local).
pub(crate) fn propfind(props: &[(&str, &str)]) -> String {
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><D:propfind xmlns:D=\"DAV:\"><D:prop>",
    );
    for (ns, local) in props {
        body.push_str(&format!("<{local} xmlns=\"{ns}\"/>"));
    }
    body.push_str("</D:prop></D:propfind>");
    body
}

/// Text escaped for an XML element.
pub(crate) fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multistatus_is_read_whatever_the_prefixes() {
        let xml = r#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:x="http://calendarserver.org/ns/">
 <response><href>/alice/contacts/</href>
  <propstat><prop>
   <resourcetype><collection/><C:addressbook/></resourcetype>
   <displayname>Work &amp; home</displayname>
   <x:getctag>"42"</x:getctag>
  </prop><status>HTTP/1.1 200 OK</status></propstat>
  <propstat><prop><getetag/></prop><status>HTTP/1.1 404 Not Found</status></propstat>
 </response>
 <a:response xmlns:a="DAV:"><a:href>/alice/cal/</a:href>
  <a:propstat><a:prop>
   <a:resourcetype><a:collection/><cal:calendar xmlns:cal="urn:ietf:params:xml:ns:caldav"/></a:resourcetype>
   <cal:supported-calendar-component-set xmlns:cal="urn:ietf:params:xml:ns:caldav"><cal:comp name="VEVENT"/><cal:comp name="VTODO"/></cal:supported-calendar-component-set>
   <a:current-user-principal><a:href>/alice/</a:href></a:current-user-principal>
  </a:prop><a:status>HTTP/1.1 200 OK</a:status></a:propstat>
 </a:response>
</multistatus>"#;
        let r = parse_multistatus(xml).expect("a multistatus");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].href, "/alice/contacts/");
        assert!(r[0].is(CARDDAV, "addressbook"));
        assert!(!r[0].is(CALDAV, "calendar"));
        assert_eq!(
            r[0].text(DAV, "displayname").as_deref(),
            Some("Work & home")
        );
        assert_eq!(r[0].text(CALSERVER, "getctag").as_deref(), Some("\"42\""));
        assert!(
            r[0].prop(DAV, "getetag").is_none(),
            "a 404 propstat is not a value"
        );
        assert!(r[1].is(CALDAV, "calendar"));
        assert_eq!(
            r[1].prop(CALDAV, "supported-calendar-component-set")
                .unwrap()
                .components,
            ["VEVENT", "VTODO"]
        );
        assert_eq!(
            r[1].prop(DAV, "current-user-principal").unwrap().hrefs,
            ["/alice/"]
        );
    }

    #[test]
    fn anything_else_is_not_a_multistatus() {
        assert!(parse_multistatus("<html><body>Sign in</body></html>").is_none());
        assert!(parse_multistatus("not xml <<<").is_none());
    }
}
