//! The user's folder rules (imapsync's `--f1f2`, `--include`, `--exclude`, `--regextrans2`, plus MailFerry's policies), validated when they are built so that mapping cannot fail on a bad rule.

use std::fmt;
use std::str::FromStr;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// Why a folder rule cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuleError {
    /// An include/exclude pattern is not a valid regular expression.
    #[error("cannot use the folder pattern {pattern:?}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex engine said.
        #[source]
        source: regex::Error,
    },
    /// A `--regextrans2` rule is not in the supported `s/…/…/flags` form.
    #[error("cannot use the rename rule {rule:?}: {problem}")]
    BadRename {
        /// The rule as given.
        rule: String,
        /// What is wrong, in plain words.
        problem: String,
    },
    /// A `--regextrans2` rule's pattern is not a valid regular expression.
    #[error("cannot use the rename rule {rule:?}: its pattern is not a valid regular expression")]
    BadRenameRegex {
        /// The rule as given.
        rule: String,
        /// What the regex engine said.
        #[source]
        source: regex::Error,
    },
    /// A `--f1f2` pair is not `source=destination`.
    #[error("cannot use the folder pair {pair:?}: write it as 'source folder=destination folder'")]
    BadPair {
        /// The pair as given.
        pair: String,
    },
}

/// An include or exclude pattern: a regular expression searched (not anchored) in the source folder's display name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern {
    text: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles a pattern.
    ///
    /// # Errors
    /// [`RuleError::BadPattern`] if it is not a valid regular expression.
    pub fn new(text: &str) -> Result<Pattern, RuleError> {
        let regex = Regex::new(text).map_err(|source| RuleError::BadPattern {
            pattern: text.to_owned(),
            source,
        })?;
        Ok(Pattern {
            text: text.to_owned(),
            regex,
        })
    }

    /// The pattern as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern occurs in `name`.
    pub fn is_match(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl TryFrom<String> for Pattern {
    type Error = RuleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Pattern::new(&s)
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.text
    }
}

impl FromStr for Pattern {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::new(s)
    }
}

/// A rename rule in imapsync's `--regextrans2` syntax: `s/pattern/replacement/flags`.
///
/// Supported, as in Perl: any non-alphanumeric, non-blank, non-bracket
/// delimiter (`s,a,b,` and `s|a|b|` work); a backslash before the delimiter
/// makes it literal; flags `g` (every match) and `i` (ignore case);
/// `$1`, `${1}` and `\1` group references in the replacement; `\\` for a
/// backslash and `\$` for a dollar sign. Anything else (other flags, `$&`,
/// Perl variables, `\n`-style escapes, bracketed `s{…}{…}`) is refused with
/// a clear error instead of being half-understood. The pattern is a Rust
/// `regex`, which matches Perl for everything except look-around and
/// back-references inside the pattern (those are refused by the compiler).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Regextrans2 {
    text: String,
    regex: Regex,
    replacement: String,
    global: bool,
}

impl Regextrans2 {
    /// Parses and compiles a rule.
    ///
    /// # Errors
    /// [`RuleError::BadRename`] for syntax outside the supported subset,
    /// [`RuleError::BadRenameRegex`] for an invalid pattern.
    pub fn parse(text: &str) -> Result<Regextrans2, RuleError> {
        let bad = |problem: &str| RuleError::BadRename {
            rule: text.to_owned(),
            problem: problem.to_owned(),
        };
        let mut chars = text.chars();
        if chars.next() != Some('s') {
            return Err(bad("it must start with 's', as in s/old/new/"));
        }
        let delim = chars
            .next()
            .ok_or_else(|| bad("it must look like s/old/new/"))?;
        if matches!(delim, '{' | '(' | '[' | '<') {
            return Err(bad(
                "bracket delimiters like s{old}{new} are not supported; use s/old/new/",
            ));
        }
        if delim.is_alphanumeric() || delim.is_whitespace() || delim == '\\' {
            return Err(bad(
                "the character after 's' must be a delimiter such as '/' or ','",
            ));
        }
        let rest: String = chars.collect();
        let (pattern, after) =
            split_part(&rest, delim).ok_or_else(|| bad("the pattern is not closed"))?;
        let (raw_replacement, flags) =
            split_part(after, delim).ok_or_else(|| bad("the replacement is not closed"))?;
        let pattern = unescape_delimiter(&pattern, delim);
        let mut global = false;
        let mut insensitive = false;
        for f in flags.chars() {
            match f {
                'g' => global = true,
                'i' => insensitive = true,
                other => {
                    return Err(bad(&format!(
                        "the flag '{other}' is not supported (only 'g' and 'i' are)"
                    )))
                }
            }
        }
        let replacement = convert_replacement(&raw_replacement, delim).map_err(|p| bad(&p))?;
        let regex = RegexBuilder::new(&pattern)
            .case_insensitive(insensitive)
            .build()
            .map_err(|source| RuleError::BadRenameRegex {
                rule: text.to_owned(),
                source,
            })?;
        Ok(Regextrans2 {
            text: text.to_owned(),
            regex,
            replacement,
            global,
        })
    }

    /// The rule as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Applies the rule to a name; returns the name unchanged when it does not match.
    pub fn apply(&self, name: &str) -> String {
        if self.global {
            self.regex
                .replace_all(name, self.replacement.as_str())
                .into_owned()
        } else {
            self.regex
                .replace(name, self.replacement.as_str())
                .into_owned()
        }
    }
}

/// Splits at the first delimiter not preceded by a backslash; keeps escapes as written.
fn split_part(s: &str, delim: char) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut it = s.char_indices();
    while let Some((i, c)) = it.next() {
        if c == '\\' {
            out.push(c);
            if let Some((_, n)) = it.next() {
                out.push(n);
            }
        } else if c == delim {
            return Some((out, &s[i + c.len_utf8()..]));
        } else {
            out.push(c);
        }
    }
    None
}

/// Perl removes the backslash from `\<delimiter>` in a pattern; `\\` stays as it is.
fn unescape_delimiter(s: &str, delim: char) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n) if n == delim => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Turns a Perl replacement into a `regex` crate replacement (`$1` → `${1}`, `$` → `$$`).
fn convert_replacement(s: &str, delim: char) -> Result<String, String> {
    let mut out = String::new();
    let push_literal = |out: &mut String, c: char| {
        if c == '$' {
            out.push_str("$$");
        } else {
            out.push(c);
        }
    };
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("the replacement ends with a lone backslash".into());
                };
                i += 2;
                if n == delim || n == '\\' || n == '$' || n == '@' {
                    push_literal(&mut out, n);
                } else if n.is_ascii_digit() && n != '0' {
                    out.push_str(&format!("${{{n}}}"));
                } else if n.is_ascii_alphanumeric() {
                    return Err(format!(
                        "the escape '\\{n}' in the replacement is not supported"
                    ));
                } else {
                    push_literal(&mut out, n);
                }
            }
            '$' => {
                let mut j = i + 1;
                let braced = chars.get(j) == Some(&'{');
                if braced {
                    j += 1;
                }
                let start = j;
                while chars.get(j).is_some_and(char::is_ascii_digit) {
                    j += 1;
                }
                if j == start || (braced && chars.get(j) != Some(&'}')) {
                    return Err(
                        "only group references like $1 are supported after '$' in the replacement (write \\$ for a dollar sign)"
                            .into(),
                    );
                }
                let digits: String = chars[start..j].iter().collect();
                out.push_str(&format!("${{{digits}}}"));
                i = if braced { j + 1 } else { j };
            }
            _ => {
                push_literal(&mut out, c);
                i += 1;
            }
        }
    }
    Ok(out)
}

impl PartialEq for Regextrans2 {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl TryFrom<String> for Regextrans2 {
    type Error = RuleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Regextrans2::parse(&s)
    }
}

impl From<Regextrans2> for String {
    fn from(r: Regextrans2) -> String {
        r.text
    }
}

impl FromStr for Regextrans2 {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Regextrans2::parse(s)
    }
}

/// An explicit pair (`--f1f2 'source=destination'`): this source folder goes exactly there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderPair {
    /// The source folder's full display name, as listed (prefix and delimiter included).
    pub source: String,
    /// The destination folder's full display name, written with the destination's delimiter and prefix.
    pub target: String,
}

impl FolderPair {
    /// Parses `source=destination` (split at the first `=`).
    ///
    /// # Errors
    /// [`RuleError::BadPair`] when there is no `=` or a side is empty.
    pub fn parse(text: &str) -> Result<FolderPair, RuleError> {
        match text.split_once('=') {
            Some((s, t)) if !s.is_empty() && !t.is_empty() => Ok(FolderPair {
                source: s.to_owned(),
                target: t.to_owned(),
            }),
            _ => Err(RuleError::BadPair {
                pair: text.to_owned(),
            }),
        }
    }
}

impl FromStr for FolderPair {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FolderPair::parse(s)
    }
}

impl fmt::Display for FolderPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.source, self.target)
    }
}

/// What to do when two source folders would land in one destination folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MergePolicy {
    /// Show it as a conflict that needs a decision (the default).
    #[default]
    Ask,
    /// Copy both into the one folder (duplicates are still avoided by the copy engine).
    Merge,
}

/// What to do with Gmail's All Mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AllMailPolicy {
    /// Copy All Mail last, into the destination's Archive, and only the
    /// messages that were not already copied from another label (the
    /// default: archived mail is kept and nothing is doubled; the copy engine
    /// enforces the "only unlabelled" part).
    #[default]
    OnlyUnlabelled,
    /// Copy every All Mail message into Archive (labelled mail is copied twice).
    Everything,
    /// Do not copy All Mail (mail without a label is left behind).
    Exclude,
}

impl AllMailPolicy {
    /// The choice in plain words.
    pub fn describe(self) -> &'static str {
        match self {
            AllMailPolicy::OnlyUnlabelled => {
                "copied last into Archive, only mail that is in no other folder (nothing is copied twice)"
            }
            AllMailPolicy::Everything => {
                "copied last into Archive, every message (mail that is also in other folders is copied twice)"
            }
            AllMailPolicy::Exclude => {
                "not copied (mail that is in no other folder will be left behind)"
            }
        }
    }
}

/// The user's folder rules.
///
/// # Precedence
/// For each source folder, the first step that decides wins:
///
/// 1. **Explicit pairs** ([`Rules::pairs`], `--f1f2 'A=B'`): the folder goes
///    exactly to `B`, even if an exclude pattern or a default exclusion
///    would skip it; no rename rule touches it. Its subfolders follow it
///    (`A/x` → `B/x`) unless they have their own pair (unlike imapsync,
///    where a pair moves only the one folder).
/// 2. **Include/exclude** ([`Rules::include`], [`Rules::exclude`]): regular
///    expressions searched in the source folder's full display name, with
///    the source delimiter and prefix (imapsync `--include`/`--exclude`, but
///    on the decoded name rather than the modified UTF-7 bytes). A folder
///    that matches an exclude pattern is skipped even if it matches an
///    include pattern; when there are include patterns, a folder that
///    matches none is skipped. Including a folder does not override the
///    default exclusions below (use a pair for that, or the `copy_*` switches).
/// 3. **Default exclusions**: `\Noselect` folders hold no mail; Gmail's group
///    root, Spam, Trash, Important and Starred ([`Rules::copy_gmail_views`]);
///    virtual `\All`/`\Flagged`/`\Important` views on other servers; Exchange's
///    non-mail folders ([`Rules::copy_non_mail`]). Gmail's All Mail follows
///    [`Rules::all_mail_policy`].
/// 4. **Special use by attribute**, on both sides and at any depth: a `\Sent`
///    source folder goes to the destination's `\Sent` folder.
/// 5. **Localized names** (a source folder directly under the personal
///    prefix, without attributes, whose name is in the dictionary, e.g.
///    `Gesendete Elemente`) and likewise on the destination side.
///    Subfolders of a folder placed by 4 or 5 keep their place under it.
/// 6. **Delimiter and prefix translation** for every other folder, replacing
///    a destination delimiter inside a name with
///    [`Rules::delimiter_replacement`].
/// 7. **Renames** ([`Rules::renames`], `--regextrans2`), in order, on the
///    translated destination display name. They apply to every name built by
///    steps 3–6 except a special folder itself (as in imapsync, where
///    automapped folders are not renamed), and never to explicit pairs.
/// 8. **Reserved names** on the destination (M365 `Files`, …) get
///    [`Rules::reserved_suffix`] instead of being overwritten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    /// Explicit pairs (`--f1f2`).
    pub pairs: Vec<FolderPair>,
    /// Include patterns (`--include`).
    pub include: Vec<Pattern>,
    /// Exclude patterns (`--exclude`).
    pub exclude: Vec<Pattern>,
    /// Rename rules (`--regextrans2`), applied in order.
    pub renames: Vec<Regextrans2>,
    /// What replaces a destination-delimiter character inside a source folder
    /// name (default `_`). If it is empty or holds the destination delimiter
    /// itself, `_` is used instead, so a name never turns into hierarchy.
    pub delimiter_replacement: String,
    /// Whether two source folders may share one destination folder.
    pub merge_policy: MergePolicy,
    /// What to do with Gmail's All Mail.
    pub all_mail_policy: AllMailPolicy,
    /// Copy Gmail's Spam, Trash, Important and Starred, and virtual views on other servers.
    pub copy_gmail_views: bool,
    /// Copy Exchange's non-mail folders (Calendar, Contacts, …).
    pub copy_non_mail: bool,
    /// Destination names to keep clear of, in addition to the built-in list
    /// used when the destination looks like Exchange/M365 (matched on the
    /// top level, ignoring case).
    pub reserved_names: Vec<String>,
    /// What is appended to a name that the destination reserves (default ` (old)`).
    pub reserved_suffix: String,
    /// The longest destination name, in wire bytes, that is assumed to work (default 255).
    pub max_name_bytes: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            pairs: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            renames: Vec::new(),
            delimiter_replacement: "_".to_owned(),
            merge_policy: MergePolicy::Ask,
            all_mail_policy: AllMailPolicy::OnlyUnlabelled,
            copy_gmail_views: false,
            copy_non_mail: false,
            reserved_names: Vec::new(),
            reserved_suffix: " (old)".to_owned(),
            max_name_bytes: 255,
        }
    }
}

impl Rules {
    /// Rules from imapsync-style flag values; everything else keeps its default.
    ///
    /// # Errors
    /// The first rule that cannot be used.
    pub fn from_flags<S: AsRef<str>>(
        f1f2: &[S],
        include: &[S],
        exclude: &[S],
        regextrans2: &[S],
    ) -> Result<Rules, RuleError> {
        Ok(Rules {
            pairs: f1f2
                .iter()
                .map(|s| FolderPair::parse(s.as_ref()))
                .collect::<Result<_, _>>()?,
            include: include
                .iter()
                .map(|s| Pattern::new(s.as_ref()))
                .collect::<Result<_, _>>()?,
            exclude: exclude
                .iter()
                .map(|s| Pattern::new(s.as_ref()))
                .collect::<Result<_, _>>()?,
            renames: regextrans2
                .iter()
                .map(|s| Regextrans2::parse(s.as_ref()))
                .collect::<Result<_, _>>()?,
            ..Rules::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(s: &str) -> Regextrans2 {
        Regextrans2::parse(s).unwrap()
    }

    #[test]
    fn regextrans2_basic_and_flags() {
        assert_eq!(rt("s/Old/New/").apply("Old/Old"), "New/Old");
        assert_eq!(rt("s/Old/New/g").apply("Old/Old"), "New/New");
        assert_eq!(rt("s/old/New/gi").apply("OLD/old"), "New/New");
        assert_eq!(rt("s/^/Migrated\\//").apply("Sent"), "Migrated/Sent");
    }

    #[test]
    fn regextrans2_any_delimiter_and_escaped_delimiter() {
        // imapsync's FAQ rule for Gmail's trailing blanks.
        let r = rt("s,/ +| +/,/,g");
        assert_eq!(r.apply("a/ b /c"), "a/b/c");
        assert_eq!(rt("s#a#b#").apply("cat"), "cbt");
        // A backslashed delimiter is the delimiter character, as in Perl.
        assert_eq!(rt("s/a\\/b/a_b/").apply("x/a/b"), "x/a_b");
        assert_eq!(rt("s|x\\|y|z|g").apply("x-y"), "z-z", "\\| is alternation");
    }

    #[test]
    fn regextrans2_backrefs_and_dollars() {
        assert_eq!(rt("s/^(\\w+)\\.(\\w+)$/$2.$1/").apply("a.b"), "b.a");
        assert_eq!(rt("s/^(a)/${1}x/").apply("ab"), "axb");
        assert_eq!(rt("s/^(a)/\\1y/").apply("ab"), "ayb");
        // "$1a" in Perl is group 1 followed by "a"; it must not become group "1a".
        assert_eq!(rt("s/(b)/$1a/").apply("b"), "ba");
        assert_eq!(rt("s/x/\\$/").apply("x"), "$");
        assert_eq!(rt("s/x/\\\\/").apply("x"), "\\");
    }

    #[test]
    fn regextrans2_rejects_what_it_does_not_understand() {
        for (rule, why) in [
            ("y/a/b/", "must start with 's'"),
            ("s/a/b", "replacement is not closed"),
            ("s/a", "pattern is not closed"),
            ("s{a}{b}", "bracket delimiters"),
            ("s/a/b/e", "flag 'e'"),
            ("s/a/b/x", "flag 'x'"),
            ("s/a/$&/", "only group references"),
            ("s/a/$foo/", "only group references"),
            ("s/a/\\n/", "escape '\\n'"),
            ("sabac", "must be a delimiter"),
        ] {
            let err = Regextrans2::parse(rule).unwrap_err();
            assert!(
                err.to_string().contains(why),
                "{rule}: {err} should mention {why}"
            );
            assert!(err.to_string().starts_with("cannot use the rename rule"));
        }
        assert!(matches!(
            Regextrans2::parse("s/(?<=a)b/c/"),
            Err(RuleError::BadRenameRegex { .. })
        ));
    }

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        let p = FolderPair::parse("A=B=C").unwrap();
        assert_eq!((p.source.as_str(), p.target.as_str()), ("A", "B=C"));
        assert!(FolderPair::parse("A").is_err());
        assert!(FolderPair::parse("=B").is_err());
        assert!(FolderPair::parse("A=").is_err());
    }

    #[test]
    fn rules_round_trip_through_a_job_file() {
        let rules =
            Rules::from_flags(&["Old=New"], &["^Clients"], &["Trash$"], &["s/ +$//g"]).unwrap();
        let json = serde_json::to_string(&rules).unwrap();
        let back: Rules = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rules);
        // A job file may leave everything out.
        let empty: Rules = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, Rules::default());
        assert_eq!(empty.delimiter_replacement, "_");
        // A bad rule in a job file is refused when it is read, not when it is used.
        assert!(serde_json::from_str::<Rules>(r#"{"include":["("]}"#).is_err());
    }

    #[test]
    fn patterns_search_anywhere_in_the_name() {
        let p = Pattern::new("Trash").unwrap();
        assert!(p.is_match("INBOX.Trash.Old"));
        assert!(!p.is_match("trash"));
        assert!(Pattern::new("(").is_err());
    }
}
