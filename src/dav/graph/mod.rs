//! Microsoft 365 through Microsoft Graph as a destination of contacts and
//! calendars (address books become contact folders, calendars become
//! calendars, each vCard or calendar object converted field by field), and
//! as a source (contacts read back as vCard 4, events as iCalendar).

pub mod client;
pub mod contact;
pub mod copy;
pub mod event;
pub mod lines;
pub mod source;
pub mod time;

pub use client::{Graph, GraphAuth, GRAPH_API};
pub use copy::{plan, sync, verify, SOURCE_UID};
