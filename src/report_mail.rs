//! The migration report as a message in the owner's *new* inbox: written
//! here as an RFC 5322 message (plain text, and HTML when there is one, as
//! `multipart/alternative`) and put there by APPEND, so no mail-sending
//! settings are needed and it is where the owner looks on Monday morning.

use crate::error::Error;
use crate::imap::messages::AppendItem;
use crate::imap::Session;
use base64::Engine as _;
use chrono::{TimeZone, Utc};

/// The report message's subject: the verdict, where the owner sees it
/// without opening the message.
pub fn subject(safe_to_switch: bool) -> &'static str {
    if safe_to_switch {
        "Your mail move: safe to switch (MailFerry report)"
    } else {
        "Your mail move: needs your attention (MailFerry report)"
    }
}

/// The report as a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportMail<'a> {
    /// The owner's new address: the message is from and to them.
    pub owner: &'a str,
    /// The subject line.
    pub subject: &'a str,
    /// The report as plain text.
    pub text: &'a str,
    /// The same report as a web page, when there is one.
    pub html: Option<&'a str>,
    /// When it was written, unix seconds (the Date header).
    pub date: i64,
}

impl ReportMail<'_> {
    /// The message's bytes (CRLF line ends, 7-bit: bodies in base64, a
    /// subject beyond ASCII in RFC 2047 words).
    pub fn compose(&self) -> Vec<u8> {
        let date = Utc
            .timestamp_opt(self.date, 0)
            .single()
            .unwrap_or_default()
            .to_rfc2822();
        let owner = header_safe(self.owner);
        let mut out = String::new();
        out.push_str(&format!("From: MailFerry <{owner}>\r\n"));
        out.push_str(&format!("To: <{owner}>\r\n"));
        out.push_str(&format!("Subject: {}\r\n", encoded_words(self.subject)));
        out.push_str(&format!("Date: {date}\r\n"));
        out.push_str(&format!("Message-ID: <{}@mailferry.invalid>\r\n", unique()));
        out.push_str("MIME-Version: 1.0\r\n");
        match self.html {
            None => {
                out.push_str(&part_headers("text/plain"));
                out.push_str(&base64_lines(self.text));
            }
            Some(html) => {
                let boundary = format!("mailferry-{}", unique());
                out.push_str(&format!(
                    "Content-Type: multipart/alternative;\r\n boundary=\"{boundary}\"\r\n\r\n"
                ));
                for (kind, body) in [("text/plain", self.text), ("text/html", html)] {
                    out.push_str(&format!("--{boundary}\r\n"));
                    out.push_str(&part_headers(kind));
                    out.push_str(&base64_lines(body));
                }
                out.push_str(&format!("--{boundary}--\r\n"));
            }
        }
        out.into_bytes()
    }

    /// Puts the report in the INBOX of `session`'s account (the new
    /// mailbox), unread.
    ///
    /// # Errors
    /// The server refused the message or the connection was lost.
    pub async fn deliver(&self, session: &mut Session) -> Result<(), Error> {
        let body = self.compose();
        session
            .append(
                "INBOX",
                &[AppendItem {
                    flags: &[],
                    internal_date: None,
                    body: &body,
                }],
            )
            .await
            .map(|_| ())
    }
}

fn part_headers(kind: &str) -> String {
    format!("Content-Type: {kind}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
}

fn base64_lines(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// A header value as given when it is plain ASCII, else RFC 2047
/// base64 words.
fn encoded_words(text: &str) -> String {
    let text = header_safe(text);
    if text.is_ascii() {
        return text;
    }
    let engine = base64::engine::general_purpose::STANDARD;
    // Words of whole characters, each under 75 characters encoded.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?utf-8?b?{}?=", engine.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?utf-8?b?{}?=", engine.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// No line break (nor angle bracket) can reach a header from a value.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || c == '<' || c == '>' {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// 16 random bytes in hex, for the Message-ID and the boundary.
fn unique() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(lines: &str) -> String {
        let joined: String = lines.split("\r\n").collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined.trim())
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_report_is_a_well_formed_message_from_and_to_the_owner() {
        let mail = ReportMail {
            owner: "anna@bakery.example",
            subject: "Your mail move: Café done",
            text: "12 messages at the new server.\nNothing missing.\n",
            html: Some("<p>12 messages at the new server.</p>"),
            date: 1_764_931_200,
        };
        let bytes = mail.compose();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(bytes.is_ascii(), "7-bit");
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "every line ends in CRLF"
        );
        assert!(text.lines().all(|l| l.len() <= 78), "short lines");
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("From: MailFerry <anna@bakery.example>\r\n"));
        assert!(head.contains("To: <anna@bakery.example>\r\n"));
        assert!(head.contains("Date: Fri, 5 Dec 2025 10:40:00 +0000\r\n"));
        assert!(head.contains("Subject: =?utf-8?b?"), "{head}");
        assert!(head.contains("multipart/alternative"));
        let boundary = head
            .split("boundary=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "preamble, two parts, the end: {body}");
        assert_eq!(parts[3], "--\r\n");
        let (plain_head, plain) = parts[1].trim_start().split_once("\r\n\r\n").unwrap();
        assert!(plain_head.starts_with("Content-Type: text/plain; charset=utf-8"));
        assert_eq!(decode(plain), mail.text);
        let (_, html) = parts[2].trim_start().split_once("\r\n\r\n").unwrap();
        assert_eq!(decode(html), mail.html.unwrap());
        // The subject's words decode back to it.
        let subject: String = head
            .split("Subject: ")
            .nth(1)
            .unwrap()
            .split("\r\nDate:")
            .next()
            .unwrap()
            .split("\r\n ")
            .map(|w| decode(w.trim_start_matches("=?utf-8?b?").trim_end_matches("?=")))
            .collect();
        assert_eq!(subject, mail.subject);
    }

    #[test]
    fn nothing_from_a_value_can_add_a_header() {
        let mail = ReportMail {
            owner: "anna@bakery.example>\r\nBcc: <x@evil.example",
            subject: "Report\r\nBcc: x@evil.example",
            text: "",
            html: None,
            date: 0,
        };
        let text = String::from_utf8(mail.compose()).unwrap();
        let head = text.split("\r\n\r\n").next().unwrap();
        assert!(head.lines().all(|l| !l.starts_with("Bcc")), "{head}");
    }
}
