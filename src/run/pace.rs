//! The copy's pace: the messages/s and bytes/s limits a user set
//! ([`Pace`]), and the providers' daily and hourly allowances ([`Budget`],
//! [`Budgets`]), waiting for their renewal with a `Throttled` event. The
//! allowance maths is pure (the caller says what time it is).

use super::{human_bytes, Cancel, Clock, FolderStop, Options};
use crate::event::{Event, EventSink};

/// Keeps the copy under the messages/s and bytes/s limits: after each
/// batch, waits until the totals so far fit the limits. Batches are
/// capped at about a second's worth, so the pace is even, not bursty.
pub struct Pace {
    pub(super) budgets: Budgets,
    started: Option<tokio::time::Instant>,
    messages: u64,
    bytes: u64,
    per_second: Option<f64>,
    bytes_per_second: Option<u64>,
}

impl Pace {
    pub(super) fn new(options: &Options) -> Pace {
        Pace {
            started: None,
            messages: 0,
            bytes: 0,
            per_second: options.max_messages_per_second.filter(|r| *r > 0.0),
            bytes_per_second: options.max_bytes_per_second.filter(|r| *r > 0),
            budgets: Budgets::default(),
        }
    }

    /// Waits, if a daily or hourly allowance would be exceeded by a batch
    /// of `messages` and `bytes`, until it is renewed (saying so, with the
    /// time the copy resumes), then counts the batch against it.
    pub(super) async fn admit(
        &mut self,
        messages: u64,
        bytes: u64,
        now: Clock<'_>,
        cancel: &Cancel,
        sink: &mut dyn EventSink,
    ) -> Result<(), FolderStop> {
        loop {
            let Err((resume_at, why)) = self.budgets.take(messages, bytes, now()) else {
                return Ok(());
            };
            let wait = (resume_at - now()).max(1) as u64;
            let at = chrono::DateTime::from_timestamp(resume_at, 0)
                .map(|t| t.format("%H:%M UTC").to_string())
                .unwrap_or_default();
            tracing::debug!(wait_secs = wait, %why, "daily allowance used up");
            sink.emit(Event::Throttled {
                wait_secs: wait,
                reason: format!("{why}; resuming at {at}"),
            });
            // Long waits stay stoppable: the stop request is looked at
            // every few seconds.
            let until = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
            while tokio::time::Instant::now() < until {
                if cancel.is_cancelled() {
                    return Err(FolderStop::Cancelled);
                }
                let step =
                    until.min(tokio::time::Instant::now() + std::time::Duration::from_secs(5));
                tokio::time::sleep_until(step).await;
            }
        }
    }

    /// Would a batch fit the allowances now (without counting it)?
    pub(super) fn would_admit(&self, messages: u64, bytes: u64, now: i64) -> bool {
        self.budgets.clone().take(messages, bytes, now).is_ok()
    }

    /// The largest batch that keeps the pace even (about one second's worth).
    pub(super) fn batch_limits(&self, options: &Options) -> (usize, u64) {
        let messages = self
            .per_second
            .map(|r| (r.ceil() as usize).clamp(1, options.batch_messages))
            .unwrap_or(options.batch_messages);
        let bytes = self
            .bytes_per_second
            .map(|r| r.min(options.batch_bytes))
            .unwrap_or(options.batch_bytes);
        (messages, bytes)
    }

    pub(super) async fn account(&mut self, messages: u64, bytes: u64) {
        if self.per_second.is_none() && self.bytes_per_second.is_none() {
            return;
        }
        let started = *self.started.get_or_insert_with(tokio::time::Instant::now);
        self.messages += messages;
        self.bytes += bytes;
        let by_count = self
            .per_second
            .map(|r| self.messages as f64 / r)
            .unwrap_or(0.0);
        let by_bytes = self
            .bytes_per_second
            .map(|r| self.bytes as f64 / r as f64)
            .unwrap_or(0.0);
        let due = started + std::time::Duration::from_secs_f64(by_count.max(by_bytes));
        tokio::time::sleep_until(due).await;
    }
}

/// The bytes of message bodies read from the source and not yet written,
/// across the folders copied at once. A batch a folder needs now is always
/// read (it could not go otherwise), but one read ahead, to overlap with
/// the writing of the batch before it, only while the run's total stays
/// within `cap`: four folders each holding two 16 MB batches would hold
/// 128 MB, where the overlap gains as much with a third of that.
#[derive(Debug)]
pub(crate) struct InFlight {
    held: std::sync::atomic::AtomicU64,
    cap: u64,
}

/// Bytes counted in [`InFlight`] until dropped (when the batch is written,
/// refused or abandoned).
#[derive(Debug)]
pub(crate) struct Held<'a> {
    flight: &'a InFlight,
    bytes: u64,
}

impl InFlight {
    /// Room for reading ahead: three batches' worth across the run.
    pub(crate) fn new(batch_bytes: u64) -> InFlight {
        InFlight {
            held: std::sync::atomic::AtomicU64::new(0),
            cap: batch_bytes.saturating_mul(3),
        }
    }

    /// Counts a batch that is read now, whatever is held.
    pub(crate) fn hold(&self, bytes: u64) -> Held<'_> {
        self.held
            .fetch_add(bytes, std::sync::atomic::Ordering::SeqCst);
        Held {
            flight: self,
            bytes,
        }
    }

    /// Counts a batch to read ahead, if it fits beside what is held.
    pub(crate) fn try_hold(&self, bytes: u64) -> Option<Held<'_>> {
        use std::sync::atomic::Ordering;
        self.held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                held.checked_add(bytes).filter(|total| *total <= self.cap)
            })
            .ok()
            .map(|_| Held {
                flight: self,
                bytes,
            })
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> u64 {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.flight
            .held
            .fetch_sub(self.bytes, std::sync::atomic::Ordering::SeqCst);
    }
}

/// An allowance of `limit` units per `window` seconds (a provider's daily
/// download or upload volume, its hourly message count), counted in fixed
/// windows from the first use. Pure: the caller says what time it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    limit: u64,
    window: i64,
    start: Option<i64>,
    used: u64,
}

impl Budget {
    /// `limit` units per `window_secs` seconds.
    pub fn new(limit: u64, window_secs: i64) -> Budget {
        Budget {
            limit,
            window: window_secs.max(1),
            start: None,
            used: 0,
        }
    }

    /// Counts `amount` units used at `now`, or, when they would go over the
    /// allowance, counts nothing and says when the window renews. Something
    /// larger than the whole allowance goes alone at the start of a window
    /// (it could never go otherwise).
    pub fn take(&mut self, amount: u64, now: i64) -> Result<(), i64> {
        match self.start {
            Some(start) if now < start + self.window => {}
            _ => {
                self.start = Some(now);
                self.used = 0;
            }
        }
        let start = self.start.unwrap_or(now);
        if self.used > 0 && self.used.saturating_add(amount) > self.limit {
            return Err(start + self.window);
        }
        self.used = self.used.saturating_add(amount);
        Ok(())
    }

    /// Units used in the current window.
    pub fn used(&self) -> u64 {
        self.used
    }
}

/// The run's allowances, each with the words that explain a wait.
#[derive(Clone, Debug, Default)]
pub struct Budgets {
    download: Option<(Budget, String)>,
    upload: Option<(Budget, String)>,
    messages: Option<(Budget, String)>,
}

impl Budgets {
    /// From the options, else the source's and the destination's presets.
    pub fn for_run(options: &Options, source_host: &str, dest_host: &str) -> Budgets {
        let src = crate::preset::for_host(source_host);
        let dst = crate::preset::for_host(dest_host);
        let pick = |asked: Option<u64>, preset: Option<u64>| match asked {
            Some(0) => None,
            Some(n) => Some(n),
            None => preset,
        };
        let day = 86_400;
        Budgets {
            download: pick(options.download_bytes_per_day, src.download_bytes_per_day).map(|n| {
                (
                    Budget::new(n, day),
                    format!(
                        "{} lets an account download about {} a day",
                        src.name,
                        human_bytes(n)
                    ),
                )
            }),
            upload: pick(options.upload_bytes_per_day, dst.upload_bytes_per_day).map(|n| {
                (
                    Budget::new(n, day),
                    format!(
                        "{} lets an account upload about {} a day",
                        dst.name,
                        human_bytes(n)
                    ),
                )
            }),
            messages: pick(options.messages_per_hour, dst.messages_per_hour).map(|n| {
                (
                    Budget::new(n, 3_600),
                    format!(
                        "{} accepts about {} messages an hour",
                        dst.name,
                        crate::preset::thousands(n)
                    ),
                )
            }),
        }
    }

    /// Counts a batch against every allowance, or (counting nothing) says
    /// when the latest one that is used up renews, and why.
    pub fn take(&mut self, messages: u64, bytes: u64, now: i64) -> Result<(), (i64, String)> {
        let mut trial = self.clone();
        let mut blocked: Option<(i64, String)> = None;
        for (budget, amount) in [
            (&mut trial.download, bytes),
            (&mut trial.upload, bytes),
            (&mut trial.messages, messages),
        ] {
            if let Some((b, why)) = budget {
                if let Err(at) = b.take(amount, now) {
                    if blocked.as_ref().is_none_or(|(t, _)| at > *t) {
                        blocked = Some((at, why.clone()));
                    }
                }
            }
        }
        match blocked {
            Some(b) => Err(b),
            None => {
                *self = trial;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allowance_fills_then_renews_with_its_window() {
        let mut b = Budget::new(100, 3_600);
        assert_eq!(b.take(60, 1_000), Ok(()));
        assert_eq!(b.take(40, 1_500), Ok(()), "exactly the allowance");
        assert_eq!(
            b.take(1, 2_000),
            Err(4_600),
            "full: renews an hour after first use"
        );
        assert_eq!(b.used(), 100, "a refusal counts nothing");
        assert_eq!(b.take(1, 4_599), Err(4_600));
        assert_eq!(b.take(70, 4_600), Ok(()), "a new window");
        assert_eq!(b.used(), 70);
        assert_eq!(b.take(31, 5_000), Err(8_200));
    }

    #[test]
    fn something_larger_than_the_allowance_goes_alone() {
        let mut b = Budget::new(10, 60);
        assert_eq!(b.take(50, 0), Ok(()), "it could never go otherwise");
        assert_eq!(b.take(1, 1), Err(60));
        assert_eq!(b.take(50, 60), Ok(()));
    }

    #[test]
    fn gmail_uploads_about_500_mb_a_day_and_microsoft_3600_messages_an_hour() {
        let options = Options::default();
        let mut gmail = Budgets::for_run(&options, "imap.gmail.com", "imap.gmail.com");
        let batch = 16 * 1_000_000;
        let mut t = 1_700_000_000;
        let mut sent = 0;
        let (resume, why) = loop {
            match gmail.take(200, batch, t) {
                Ok(()) => sent += batch,
                Err(e) => break e,
            }
            t += 10;
        };
        assert_eq!(sent, 496_000_000, "31 batches of 16 MB fit in 500 MB");
        assert_eq!(
            resume,
            1_700_000_000 + 86_400,
            "a day after the first batch"
        );
        assert!(why.contains("Gmail") && why.contains("upload"), "{why}");

        let mut m365 = Budgets::for_run(&options, "imap.example.org", "outlook.office365.com");
        assert_eq!(m365.take(1_000, 1, 0), Ok(()));
        assert_eq!(m365.take(1_000, 1, 10), Ok(()));
        assert_eq!(m365.take(1_000, 1, 20), Ok(()));
        let (resume, why) = m365.take(1_000, 1, 30).unwrap_err();
        assert_eq!(resume, 3_600);
        assert!(why.contains("3,600 messages an hour"), "{why}");
        assert_eq!(m365.take(600, 1, 40), Ok(()), "what still fits goes");

        // Reading from Gmail counts against its download allowance, not upload.
        let mut down = Budgets::for_run(&options, "imap.gmail.com", "imap.example.org");
        assert_eq!(down.take(1, 2_400_000_000, 0), Ok(()));
        let (resume, why) = down.take(1, 200_000_000, 5).unwrap_err();
        assert_eq!(resume, 86_400);
        assert!(why.contains("download"), "{why}");

        // No preset limit on other servers; 0 switches a preset's off.
        let mut none = Budgets::for_run(&options, "imap.example.org", "imap.example.org");
        assert_eq!(none.take(1_000_000, u64::MAX / 2, 0), Ok(()));
        let off = Options {
            upload_bytes_per_day: Some(0),
            download_bytes_per_day: Some(0),
            ..Options::default()
        };
        let mut gmail = Budgets::for_run(&off, "imap.gmail.com", "imap.gmail.com");
        for i in 0..100 {
            assert_eq!(gmail.take(100, batch, i), Ok(()));
        }
    }

    #[test]
    fn reading_ahead_stops_at_the_cap_and_resumes_as_batches_are_written() {
        let flight = InFlight::new(16);
        let now = flight.hold(16);
        let ahead = flight.try_hold(16).expect("two batches fit in three");
        assert!(
            flight.try_hold(17).is_none(),
            "49 bytes would pass the cap of 48"
        );
        let last = flight.try_hold(16).expect("exactly the cap");
        assert_eq!(flight.held(), 48);
        assert!(flight.try_hold(1).is_none(), "full");
        let needed = flight.hold(16);
        assert_eq!(
            flight.held(),
            64,
            "a batch needed now is read even when the cap is reached"
        );
        drop(now);
        drop(needed);
        assert_eq!(flight.held(), 32, "written batches are released");
        assert!(flight.try_hold(16).is_some(), "and there is room again");
        assert_eq!(flight.held(), 32, "a dropped hold releases its bytes");
        drop((ahead, last));
        assert_eq!(flight.held(), 0);
        assert!(
            InFlight::new(16).try_hold(50).is_none(),
            "a message larger than the cap is never read ahead"
        );
    }

    #[test]
    fn a_batch_that_one_allowance_refuses_counts_against_none() {
        let options = Options {
            download_bytes_per_day: Some(1_000),
            messages_per_hour: Some(10),
            ..Options::default()
        };
        let mut b = Budgets::for_run(&options, "imap.example.org", "imap.example.org");
        assert_eq!(b.take(8, 100, 0), Ok(()));
        // 5 more messages exceed the hourly 10; the bytes would have fit.
        assert_eq!(b.take(5, 100, 1).map_err(|e| e.0), Err(3_600));
        // So the bytes were not counted: 900 more still fit today.
        assert_eq!(b.take(2, 900, 2), Ok(()));
    }
}
